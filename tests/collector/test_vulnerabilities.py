"""Vulnerability relevancy on both databases: Trivy, Grype and CycloneDX reports of one image judged
against its inventory and usage; OpenVEX and CycloneDX documents validated against their schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from fastapi.testclient import TestClient
from packageurl import PackageURL

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from tests.collector.test_inventory import put_all, small_image, use
from tests.harness.scans import FORMATS, Vuln

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
R = 1
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SITE = "usr/lib/python3/dist-packages"

VULNS = [
    Vuln("CVE-2024-0001", "CRITICAL", "deb", "tool", "1.0-1",
         "pkg:deb/debian/tool@1.0-1?arch=amd64&distro=debian-12.5"),
    Vuln("CVE-2024-0002", "LOW", "deb", "docs", "2:3.1"),  # no purl: matched by type, name and version
    Vuln("CVE-2024-0003", "HIGH", "python", "requests", "2.28.1", "pkg:pypi/requests@2.28.1",
         f"{SITE}/requests-2.28.1.dist-info/METADATA"),
    Vuln("CVE-2024-0004", "MEDIUM", "python", "idna", "3.4", "pkg:pypi/idna@3.4",
         f"{SITE}/idna-3.4.dist-info/METADATA"),
    # a jar inside the application's jar: reported at the outer file, which no package owns
    Vuln("CVE-2024-0005", "HIGH", "java", "jackson-databind", "2.9.0",
         "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.0", "opt/app/lib/outer.jar",
         nested_in="java:outer.jar"),
    # not in the image: Grype still locates it at /var/lib/dpkg/status, which the image holds
    Vuln("CVE-2024-0006", "MEDIUM", "deb", "ghost", "1.0", "pkg:deb/debian/ghost@1.0?arch=amd64"),
    # listed by a lock file the image holds, installed nowhere: the lock file proves nothing
    Vuln("CVE-2024-0007", "LOW", "npm", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0",
         lock_file="opt/app/package-lock.json"),
]
IN_USE = {"CVE-2024-0001", "CVE-2024-0003", "CVE-2024-0005"}
NOT_IN_USE = {"CVE-2024-0002", "CVE-2024-0004"}
UNKNOWN = {"CVE-2024-0006", "CVE-2024-0007"}


def python_package(root: Path, name: str, version: str) -> None:
    (root / SITE / name).mkdir(parents=True)
    (root / SITE / name / "__init__.py").write_text("x = 1\n")
    info = root / SITE / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


def scanned_image(client: TestClient, root: Path) -> None:
    small_image(root)
    python_package(root, "requests", "2.28.1")
    python_package(root, "idna", "3.4")
    (root / "opt/app/lib").mkdir(parents=True)
    (root / "opt/app/lib/outer.jar").write_bytes(b"PK\x03\x04")
    (root / "opt/app/package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    upload = Upload("node-a/inventory", DIGEST, "app:1", "layers")
    assert put_all(client, list(inventory_chunks(ImageTree([os.fsencode(root)]), upload)))[-1] == (True, "")
    use(client, {b"/usr/bin/tool": 4, f"/{SITE}/requests/__init__.py".encode(): R, b"/opt/app/lib/outer.jar": R,
                 b"/var/lib/dpkg/status": R, b"/opt/app/package-lock.json": R}, digest=DIGEST)


def ids(entries: list[dict]) -> set[str]:
    return {e["id"] for e in entries}


@pytest.mark.parametrize("scanner", sorted(FORMATS))
def test_each_format_is_judged_by_use(client: TestClient, tmp_path: Path, scanner: str) -> None:
    scanned_image(client, tmp_path / "img")
    report = FORMATS[scanner](DIGEST, "registry.example/app:1", VULNS)
    r = client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(report))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scanner"] == scanner and body["image"]["digest"] == DIGEST
    assert (ids(body["in_use"]), ids(body["not_in_use"]), ids(body["unknown"])) == (IN_USE, NOT_IN_USE, UNKNOWN)
    assert body["counts"]["in_use"] == {"CRITICAL": 1, "HIGH": 2}
    assert body["counts"]["not_in_use"] == {"LOW": 1, "MEDIUM": 1}
    assert body["counts"]["unknown"] == {"MEDIUM": 1, "LOW": 1} and body["inventory"] == "complete"
    reasons = {e["id"]: e["reason"] for e in body["unknown"]}
    assert "holds no package of this name and version" in reasons["CVE-2024-0006"]
    assert "only in a package database or lock file" in reasons["CVE-2024-0007"]
    tool = next(e for e in body["in_use"] if e["id"] == "CVE-2024-0001")
    assert tool["evidence"]["files"] == ["/usr/bin/tool"] and tool["evidence"]["containers"] == 1
    assert tool["evidence"]["last_seen"]
    jar = next(e for e in body["in_use"] if e["id"] == "CVE-2024-0005")
    assert jar["evidence"]["files"] == ["/opt/app/lib/outer.jar"]
    assert body["coverage"]["instances"] == 1
    assert client.get("/api/v1/images/app:1/vulnerabilities").json()["in_use"] == body["in_use"]  # stored


def test_verdicts_follow_usage_and_show_in_images_and_diff(client: TestClient, tmp_path: Path) -> None:
    scanned_image(client, tmp_path / "img")
    client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(FORMATS["trivy"](DIGEST, "app:1", VULNS)))
    use(client, {f"/{SITE}/idna/__init__.py".encode(): R}, cid="c2", digest=DIGEST)  # now idna is used too
    again = client.get("/api/v1/images/app:1/vulnerabilities").json()
    assert ids(again["in_use"]) == IN_USE | {"CVE-2024-0004"}
    listed = client.get("/api/v1/images").json()["images"][0]
    assert listed["vulnerabilities"] == {"in_use": {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 1}}

    # another image, the same inventory, only /usr/bin/tool used: a diff names what changed
    upload = Upload("node-a/inventory", OTHER, "app:2", "layers")
    put_all(client, list(inventory_chunks(ImageTree([os.fsencode(tmp_path / "img")]), upload)))
    use(client, {b"/usr/bin/tool": 4}, cid="c3", digest=OTHER)
    assert client.get("/api/v1/diff", params={"base": "app:1", "head": "app:2"}).json()["vulnerabilities"] is None
    client.post("/api/v1/images/app:2/vulnerabilities", content=json.dumps(FORMATS["grype"](OTHER, "app:2", VULNS)))
    d = client.get("/api/v1/diff", params={"base": "app:1", "head": "app:2"}).json()  # a new scan: not the cached
    assert d["vulnerabilities"] == {"now_in_use": [], "no_longer_in_use": ["CVE-2024-0003", "CVE-2024-0004",
                                                                           "CVE-2024-0005"]}


def test_openvex_document(client: TestClient, tmp_path: Path) -> None:
    scanned_image(client, tmp_path / "img")
    client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(FORMATS["trivy"](DIGEST, "app:1", VULNS)))
    vex = client.get("/api/v1/images/app:1/vulnerabilities", params={"format": "openvex"}).json()
    jsonschema.validate(vex, json.loads((SCHEMAS / "openvex-0.2.0.schema.json").read_text()))
    by_id = {s["vulnerability"]["name"]: s for s in vex["statements"]}
    assert {i for i, s in by_id.items() if s["status"] == "affected"} == IN_USE
    assert {i for i, s in by_id.items() if s["status"] == "under_investigation"} == UNKNOWN
    quiet = by_id["CVE-2024-0002"]
    assert quiet["status"] == "not_affected" and quiet["justification"] == "vulnerable_code_not_in_execute_path"
    product = by_id["CVE-2024-0001"]["products"][0]
    assert product["@id"] == f"pkg:oci/app@sha256%3A{'a' * 64}?repository_url=docker.io/library/app"
    assert product["subcomponents"] == [{"@id": VULNS[0].purl}]
    assert "/usr/bin/tool" in by_id["CVE-2024-0001"]["action_statement"]


@pytest.mark.parametrize("used, names", [("true", {"tool", "requests"}), ("false", {"docs", "idna"}),
                                         ("all", {"tool", "requests", "docs", "idna"})])
def test_sbom_of_used_packages_is_valid_cyclonedx(client: TestClient, tmp_path: Path, used: str,
                                                  names: set[str]) -> None:
    scanned_image(client, tmp_path / "img")
    r = client.get("/api/v1/images/app:1/sbom", params={"used": used})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(r.text) is None
    bom = r.json()
    assert {c["name"] for c in bom["components"]} == names
    subject = PackageURL.from_string(bom["metadata"]["component"]["purl"])
    assert (subject.type, subject.name, subject.version) == ("oci", "app", DIGEST)


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 422, "a JSON object"),
    (b'{"hello": "world"}', 422, "unknown report format"),
    (json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.3"}).encode(), 422, "no vulnerabilities (they came"),
    (json.dumps({"bomFormat": "CycloneDX", "specVersion": "2.0"}).encode(), 422, "only 1.x is read"),
    (json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.7", "components": []}).encode(), 422,
     "this is an SBOM, not a scan"),
    (json.dumps({"spdxVersion": "SPDX-2.2", "packages": []}).encode(), 422, "only SPDX-2.3"),
    (json.dumps({"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "p", "name": "a"}]}).encode(), 422,
     "1 packages but no vulnerabilities"),
    (json.dumps(FORMATS["trivy"](OTHER, "app:1", VULNS)).encode(), 422, f"not of {DIGEST}"),
    (json.dumps({"matches": [{"vulnerability": {}}], "source": {}}).encode(), 422, "without vulnerability.id"),
])
def test_bad_reports_are_refused_and_nothing_is_stored(client: TestClient, tmp_path: Path, body: bytes,
                                                       status: int, message: str) -> None:
    scanned_image(client, tmp_path / "img")
    r = client.post("/api/v1/images/app:1/vulnerabilities", content=body)
    assert r.status_code == status and message in r.json()["detail"]
    assert client.get("/api/v1/images/app:1/vulnerabilities").status_code == 404


def test_a_report_past_the_limit_is_refused(client: TestClient, tmp_path: Path) -> None:
    scanned_image(client, tmp_path / "img")
    huge = b'{"Results": [], "padding": "' + b"x" * (64 * 1024 * 1024) + b'"}'
    r = client.post("/api/v1/images/app:1/vulnerabilities", content=huge)
    assert r.status_code == 413 and "at most" in r.json()["detail"]


@pytest.mark.parametrize("version, warned", [("1.4", False), ("1.6", False), ("1.7", False), ("1.8", True)])
def test_cyclonedx_versions_are_read(client: TestClient, tmp_path: Path, version: str, warned: bool) -> None:
    """1.7 is what Trivy's and Grype's current releases write; a later 1.x is read by its 1.7 fields."""
    scanned_image(client, tmp_path / "img")
    report = FORMATS["cyclonedx"](DIGEST, "app:1", VULNS) | {"specVersion": version}
    body = client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(report)).json()
    assert (ids(body["in_use"]), ids(body["not_in_use"]), ids(body["unknown"])) == (IN_USE, NOT_IN_USE, UNKNOWN)
    assert [w.startswith(f"CycloneDX {version} is newer than 1.7") for w in body["warnings"]] == \
        ([True] if warned else [])


def test_a_scan_before_the_inventory_is_pending(client: TestClient, tmp_path: Path) -> None:
    """Stored at once; every verdict unknown with the reason, and judged once the inventory completes."""
    use(client, {b"/usr/bin/tool": 4}, digest=DIGEST)
    assert client.get(f"/api/v1/images/{DIGEST}/summary").json()["runtime_created"] is None
    r = client.post(f"/api/v1/images/{DIGEST}/vulnerabilities",
                    content=json.dumps(FORMATS["grype"](DIGEST, "app:1", VULNS)))
    assert r.status_code == 200 and r.json()["inventory"] == "pending"
    assert ids(r.json()["unknown"]) == {v.id for v in VULNS}
    assert all("not complete yet" in e["reason"] for e in r.json()["unknown"])
    vex = client.get(f"/api/v1/images/{DIGEST}/vulnerabilities", params={"format": "openvex"}).json()
    assert {s["status"] for s in vex["statements"]} == {"under_investigation"}
    assert "not complete yet" in vex["statements"][0]["status_notes"]
    scanned_image(client, tmp_path / "img")
    later = client.get(f"/api/v1/images/{DIGEST}/vulnerabilities").json()
    assert later["inventory"] == "complete" and ids(later["in_use"]) == IN_USE
    assert client.get(f"/api/v1/images/{DIGEST}/summary").json()["runtime_created"] is not None
