"""Vulnerability relevancy end to end: a Debian image with Python packages and a jar runs through the CRI,
the agent inventories it and traces it, and reports in each scanner's format are judged by what ran;
the CLI uploads one and prints the verdicts, an OpenVEX document and a filtered SBOM."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from snoop.agent.inventory.packages import paragraphs
from snoop.common.oci import layout_tar
from tests.collector.test_vulnerabilities import SCHEMAS, SITE, python_package
from tests.conftest import SNOOP
from tests.e2e.conftest import Stack
from tests.e2e.test_inventory import wait_summary
from tests.harness.containerd import Containerd
from tests.harness.scans import FORMATS, Vuln

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

WORKLOAD = ("import sqlite3, time, requests\n"
            "open('/opt/app/lib/outer.jar', 'rb').read()\n"
            "time.sleep(600)\n")


def installed(rootfs: Path) -> dict[str, str]:
    status = (rootfs / "var/lib/dpkg/status").read_text()
    return {f["Package"]: f["Version"] for _, f in paragraphs(status) if f.get("Status", "").endswith(" installed")}


def findings(rootfs: Path) -> list[Vuln]:
    versions = installed(rootfs)
    deb = lambda name: f"pkg:deb/debian/{name}@{versions[name]}?arch=amd64&distro=debian-12"  # noqa: E731
    return [
        Vuln("CVE-2025-1001", "HIGH", "deb", "libsqlite3-0", versions["libsqlite3-0"], deb("libsqlite3-0")),
        Vuln("CVE-2025-1002", "CRITICAL", "deb", "apt", versions["apt"], deb("apt")),
        Vuln("CVE-2025-1003", "MEDIUM", "python", "requests", "2.28.1", "pkg:pypi/requests@2.28.1",
             f"{SITE}/requests-2.28.1.dist-info/METADATA"),
        Vuln("CVE-2025-1004", "LOW", "python", "idna", "3.4", "pkg:pypi/idna@3.4",
             f"{SITE}/idna-3.4.dist-info/METADATA"),
        Vuln("CVE-2025-1005", "HIGH", "java", "jackson-databind", "2.9.0",
             "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.0", "opt/app/lib/outer.jar",
             nested_in="java:outer.jar"),
        Vuln("CVE-2025-1006", "MEDIUM", "deb", "openssl", "3.0.0", "pkg:deb/debian/openssl@3.0.0?arch=amd64"),
    ]


IN_USE = {"CVE-2025-1001", "CVE-2025-1003", "CVE-2025-1005"}
NOT_IN_USE = {"CVE-2025-1002", "CVE-2025-1004"}
UNKNOWN = {"CVE-2025-1006"}  # openssl is not installed in this image


def snoop(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SNOOP), *args], capture_output=True, timeout=120)


def test_reports_judged_by_what_ran(stack: Stack, containerd: Containerd, debian_rootfs: Path,
                                    tmp_path: Path) -> None:
    extra = tmp_path / "app-layer"
    python_package(extra, "requests", "2.28.1")
    python_package(extra, "idna", "3.4")
    (extra / "opt/app/lib").mkdir(parents=True)
    (extra / "opt/app/lib/outer.jar").write_bytes(b"PK\x03\x04")
    tar = layout_tar([debian_rootfs, extra], tmp_path, cmd=["/usr/bin/python3"])
    image = containerd.import_image("scanned", tar=tar)
    pod = containerd.run_pod("scanned-7d4f8b9c5d-abcde", {"app": (image, ["/usr/bin/python3", "-c", WORKLOAD])})
    try:
        stack.wait_files(image.digest, {"/opt/app/lib/outer.jar", f"/{SITE}/requests/__init__.py"}, timeout_s=60)
        wait_summary(stack, image.digest)
        vulns = findings(debian_rootfs)
        for scanner, build in FORMATS.items():
            report = build(image.digest, image.reference, vulns)
            r = httpx.post(f"{stack.base}/api/v1/images/{image.digest}/vulnerabilities", content=json.dumps(report),
                           timeout=60)
            assert r.status_code == 200, r.text
            body = r.json()
            verdicts = tuple({e["id"] for e in body[v]} for v in ("in_use", "not_in_use", "unknown"))
            assert verdicts == (IN_USE, NOT_IN_USE, UNKNOWN), scanner
            sqlite = next(e for e in body["in_use"] if e["package"] == "libsqlite3-0")
            assert any("libsqlite3.so" in f for f in sqlite["evidence"]["files"])

        trivy = tmp_path / "trivy.json"
        trivy.write_text(json.dumps(FORMATS["trivy"](image.digest, image.reference, vulns)))
        out = snoop("vulns", image.reference, str(trivy), "--server", stack.base)
        assert out.returncode == 0, out.stderr
        text = out.stdout.decode()
        assert "scanned by trivy: 6 vulnerabilities, 3 in use" in text and "CVE-2025-1005" in text
        vex = json.loads(snoop("vulns", image.reference, "-o", "openvex", "--server", stack.base).stdout)
        jsonschema.validate(vex, json.loads((SCHEMAS / "openvex-0.2.0.schema.json").read_text()))
        assert {s["vulnerability"]["name"] for s in vex["statements"] if s["status"] == "affected"} == IN_USE
        bom = snoop("sbom", image.reference, "--used", "--server", stack.base).stdout.decode()
        assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(bom) is None
        names = {c["name"] for c in json.loads(bom)["components"]}
        assert {"libsqlite3-0", "requests", "libc6"} <= names and "apt" not in names and "idna" not in names
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps(FORMATS["grype"]("sha256:" + "0" * 64, image.reference, vulns)))
        refused = snoop("vulns", image.reference, str(wrong), "--server", stack.base)
        assert refused.returncode == 1 and b"not of " + image.digest.encode() in refused.stderr
        listed = httpx.get(f"{stack.base}/api/v1/images", timeout=30).json()["images"]
        assert next(i for i in listed if i["digest"] == image.digest)["vulnerabilities"]["in_use"] == {
            "HIGH": 2, "MEDIUM": 1}
    finally:
        containerd.remove_pod(pod)
