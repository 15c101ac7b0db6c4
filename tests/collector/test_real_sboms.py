"""Verdicts from real tools' output, on both databases: syft's and Trivy's SBOMs (CycloneDX 1.7, SPDX 2.3)
of an OCI archive of a Debian image with a layer of Python packages and a fat jar.

No scanner matches vulnerabilities offline (it needs its database), so the findings are a stand-in: each
is attached to a component exactly as the tool wrote it (its bom-ref, purl and locations) — a CycloneDX
``vulnerabilities`` entry, an SPDX ``advisory`` reference. One more component is a package the image does
not hold, located where syft locates every deb: only in /var/lib/dpkg/status."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from snoop.common.oci import layout_tar, manifest_digest
from tests.collector.test_inventory import put_all, use
from tests.collector.test_vulnerabilities import SITE, ids, python_package
from tests.harness import tools
from tests.harness.jars import fat_jar, jar

FINDINGS = {  # component name -> vulnerability id (made up: see above)
    "libsqlite3-0": "CVE-2099-0001", "apt": "CVE-2099-0002", "requests": "CVE-2099-0003",
    "idna": "CVE-2099-0004", "jackson-databind": "CVE-2099-0005", "ghost": "CVE-2099-0006",
}
IN_USE = {"CVE-2099-0001", "CVE-2099-0003", "CVE-2099-0005"}
NOT_IN_USE = {"CVE-2099-0002", "CVE-2099-0004"}
UNKNOWN = {"CVE-2099-0006"}


@pytest.fixture(scope="module")
def archive(debian_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(app layer, OCI archive, manifest digest) of the Debian image with the app layer on top."""
    work = tmp_path_factory.mktemp("image")
    layer = work / "app"
    python_package(layer, "requests", "2.28.1")
    python_package(layer, "idna", "3.4")
    fat_jar(layer / "opt/app/lib/outer.jar",
            {"jackson-databind-2.9.0.jar": jar("com.fasterxml.jackson.core", "jackson-databind", "2.9.0")})
    tar = layout_tar([debian_rootfs, layer], work, cmd=["/usr/bin/python3"])
    return layer, tar, manifest_digest(tar)


def run_image(client: TestClient, debian_rootfs: Path, layer: Path, digest: str) -> None:
    """The image's inventory, and a container that used sqlite, requests and the fat jar."""
    tree = ImageTree([os.fsencode(layer), os.fsencode(debian_rootfs)])
    upload = Upload("node-a/inventory", digest, "py-app:1", "layers")
    assert put_all(client, list(inventory_chunks(tree, upload, chunk_files=5000)))[-1] == (True, "")
    sqlite = next(line for line in (debian_rootfs / "var/lib/dpkg/info/libsqlite3-0:amd64.list").read_text()
                  .splitlines() if ".so." in line and not (debian_rootfs / line.lstrip("/")).is_symlink())
    use(client, {sqlite.encode(): 1, f"/{SITE}/requests/__init__.py".encode(): 1, b"/opt/app/lib/outer.jar": 1,
                 b"/var/lib/dpkg/status": 1}, digest=digest)


def cyclonedx_with_findings(bom: dict[str, Any], findings: dict[str, str]) -> dict[str, Any]:
    """The tool's BOM with a finding for each named component, and the ghost placed as the tool places
    a deb: syft at /var/lib/dpkg/status, Trivy nowhere."""
    bom = copy.deepcopy(bom)
    apt = next(c for c in bom["components"] if c["name"] == "apt")
    ghost = copy.deepcopy(apt) | {"name": "ghost", "version": "1.0", "purl": "pkg:deb/debian/ghost@1.0?arch=amd64",
                                  "bom-ref": "pkg:deb/debian/ghost@1.0?package-id=0"}
    ghost["properties"] = [p for p in apt.get("properties", []) if not p["name"].startswith("syft:location:")]
    if any(p["name"].startswith("syft:") for p in apt.get("properties", [])):
        ghost["properties"].append({"name": "syft:location:0:path", "value": "/var/lib/dpkg/status"})
    bom["components"].append(ghost)
    refs = {c["name"]: c["bom-ref"] for c in bom["components"] if c["name"] in findings}
    assert set(refs) == set(findings), f"the tool did not find {set(findings) - set(refs)}"
    bom["vulnerabilities"] = [{"id": vid, "ratings": [{"severity": "high"}], "affects": [{"ref": refs[name]}]}
                              for name, vid in findings.items()]
    return bom


def spdx_with_findings(doc: dict[str, Any], findings: dict[str, str]) -> dict[str, Any]:
    """As ``cyclonedx_with_findings``: the ghost evident by /var/lib/dpkg/status where the tool lists it."""
    doc = copy.deepcopy(doc)
    status = next((f["SPDXID"] for f in doc.get("files", []) if f["fileName"].lstrip("/") == "var/lib/dpkg/status"),
                  None)
    doc["packages"].append({"name": "ghost", "SPDXID": "SPDXRef-Package-deb-ghost", "versionInfo": "1.0",
                            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                              "referenceLocator": "pkg:deb/debian/ghost@1.0?arch=amd64"}]})
    if status:
        doc["relationships"].append({"spdxElementId": "SPDXRef-Package-deb-ghost", "relatedSpdxElement": status,
                                     "relationshipType": "OTHER", "comment": "evident-by: the dpkg database"})
    named = [p for p in doc["packages"] if p["name"] in findings]
    assert {p["name"] for p in named} == set(findings)
    for p in named:
        p.setdefault("externalRefs", []).append({
            "referenceCategory": "SECURITY", "referenceType": "advisory",
            "referenceLocator": f"https://nvd.nist.gov/vuln/detail/{findings[p['name']]}"})
    return doc


def judged(client: TestClient, digest: str, report: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/api/v1/images/{digest}/vulnerabilities", content=json.dumps(report))
    assert r.status_code == 200, r.text
    return r.json()


def assert_verdicts(body: dict[str, Any], jar: bool = True,
                    ghost_reason: str = "package database or lock file") -> None:
    skip = set() if jar else {FINDINGS["jackson-databind"]}
    assert (ids(body["in_use"]), ids(body["not_in_use"]), ids(body["unknown"])) == (
        IN_USE - skip, NOT_IN_USE, UNKNOWN)
    ghost = body["unknown"][0]
    assert ghost["package"] == "ghost" and ghost_reason in ghost["reason"]
    if jar:
        jar_entry = next(e for e in body["in_use"] if e["package"] == "jackson-databind")
        assert jar_entry["evidence"]["files"] == ["/opt/app/lib/outer.jar"]


def test_syft_cyclonedx_and_spdx(client: TestClient, debian_rootfs: Path, archive: tuple[Path, Path, str]) -> None:
    layer, tar, digest = archive
    run_image(client, debian_rootfs, layer, digest)
    bom = tools.syft(f"oci-archive:{tar}", "cyclonedx-json")
    assert bom["specVersion"] == "1.7" and bom["metadata"]["component"]["version"] == digest
    sqlite = next(c for c in bom["components"] if c["name"] == "libsqlite3-0")
    assert "/var/lib/dpkg/status" in [p["value"] for p in sqlite["properties"] if p["name"].endswith(":path")]
    body = judged(client, digest, cyclonedx_with_findings(bom, FINDINGS))
    assert body["scanner"] == "cyclonedx" and body["warnings"] == []
    assert_verdicts(body)

    spdx = tools.syft(f"oci-archive:{tar}", "spdx-json")
    assert spdx["spdxVersion"] == "SPDX-2.3"
    body = judged(client, digest, spdx_with_findings(spdx, FINDINGS))
    assert body["scanner"] == "spdx"
    assert_verdicts(body)
    r = client.post(f"/api/v1/images/{digest}/vulnerabilities", content=json.dumps(spdx))  # as syft wrote it
    assert r.status_code == 422 and "no vulnerabilities" in r.json()["detail"]


def test_trivy_cyclonedx_and_spdx(client: TestClient, debian_rootfs: Path, archive: tuple[Path, Path, str],
                         tmp_path: Path) -> None:
    """Trivy reads jars only with its Java database (fetched online), so it is told to skip them; it
    gives OS packages no location, so its ghost is placed nowhere."""
    layer, tar, digest = archive
    run_image(client, debian_rootfs, layer, digest)
    bom = tools.trivy(tar.parent / "layout", "cyclonedx", tmp_path / "cache")
    assert bom["specVersion"] == "1.7"
    requests = next(c for c in bom["components"] if c["name"] == "requests")
    assert {"name": "aquasecurity:trivy:FilePath",
            "value": f"{SITE}/requests-2.28.1.dist-info/METADATA"} in requests["properties"]
    findings = {k: v for k, v in FINDINGS.items() if k != "jackson-databind"}
    body = judged(client, digest, cyclonedx_with_findings(bom, findings))
    assert_verdicts(body, jar=False, ghost_reason="holds no package of this name and version")

    spdx = tools.trivy(tar.parent / "layout", "spdx-json", tmp_path / "cache")
    assert spdx["spdxVersion"] == "SPDX-2.3"
    body = judged(client, digest, spdx_with_findings(spdx, findings))
    assert body["scanner"] == "spdx"
    assert_verdicts(body, jar=False, ghost_reason="holds no package of this name and version")
