"""Scanner reports for test images, shaped as Trivy (JSON, SchemaVersion 2), Grype (JSON) and CycloneDX 1.5
(as Syft and Trivy write it) document them: one list of findings, three formats, so that each test
knows exactly what the answer must be. No scanner can match vulnerabilities offline (it needs its
database), so findings are written by hand here; where the packages and locations matter, the tests
use syft's and Trivy's real SBOMs instead (tests/harness/tools.py). Locations follow the scanners'
conventions: Grype places every deb at /var/lib/dpkg/status (and its copyright file), Trivy gives OS
packages no path and a lock file's packages the lock file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Trivy's result Type and Class per package type; Grype's artifact type.
TRIVY = {"deb": ("debian", "os-pkgs"), "python": ("python-pkg", "lang-pkgs"), "java": ("jar", "lang-pkgs"),
         "npm": ("npm", "lang-pkgs")}
GRYPE = {"deb": "deb", "python": "python", "java": "java-archive", "npm": "npm"}


@dataclass(frozen=True)
class Vuln:
    id: str
    severity: str
    type: str          # deb, python, java
    name: str
    version: str
    purl: str = ""
    path: str = ""     # where the scanner found the package, relative as Trivy writes it
    nested_in: str = ""  # a jar inside this jar (CycloneDX: a component of that component)
    lock_file: str = ""  # Trivy: the lock file that lists it (its result's Target; no PkgPath)


def trivy(digest: str, reference: str, vulns: list[Vuln]) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    for v in vulns:
        kind, klass = TRIVY[v.type]
        target = f"{reference} (debian 12.5)" if klass == "os-pkgs" else (v.lock_file or v.path or "Python")
        result = results.setdefault(target, {"Target": target, "Class": klass, "Type": kind, "Vulnerabilities": []})
        entry: dict[str, Any] = {"VulnerabilityID": v.id, "PkgName": v.name, "InstalledVersion": v.version,
                                 "FixedVersion": "", "Status": "affected", "Severity": v.severity,
                                 "Title": f"{v.id} in {v.name}"}
        if v.purl:
            entry["PkgIdentifier"] = {"PURL": v.purl, "UID": v.id.lower()}
        if v.path:
            entry["PkgPath"] = v.path
        result["Vulnerabilities"].append(entry)
    name = reference.rsplit(":", 1)[0]
    return {"SchemaVersion": 2, "CreatedAt": "2026-11-22T08:00:00Z", "ArtifactName": reference,
            "ArtifactType": "container_image",
            "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "ImageID": "sha256:" + "c" * 64,
                         "RepoTags": [reference], "RepoDigests": [f"{name}@{digest}"]},
            "Results": list(results.values())}


def grype_locations(v: Vuln) -> list[dict[str, Any]]:
    if v.type == "deb":  # syft's dpkg cataloger: the database first, then the package's own files
        return [{"path": "/var/lib/dpkg/status", "annotations": {"evidence": "primary"}},
                {"path": f"/usr/share/doc/{v.name}/copyright", "annotations": {"evidence": "supporting"}}]
    path = v.path or v.lock_file
    return [{"path": "/" + path.lstrip("/")}] if path else []


def grype(digest: str, reference: str, vulns: list[Vuln]) -> dict[str, Any]:
    matches = [{
        "vulnerability": {"id": v.id, "dataSource": f"https://nvd.nist.gov/vuln/detail/{v.id}",
                          "severity": v.severity.capitalize(), "fix": {"versions": [], "state": "not-fixed"}},
        "matchDetails": [{"type": "exact-direct-match", "matcher": f"{GRYPE[v.type]}-matcher"}],
        "artifact": {"id": f"{v.name}-{v.version}", "name": v.name, "version": v.version, "type": GRYPE[v.type],
                     "locations": grype_locations(v),
                     "language": "" if v.type == "deb" else v.type, "purl": v.purl},
    } for v in vulns]
    return {"matches": matches,
            "source": {"type": "image", "target": {"userInput": reference, "manifestDigest": digest,
                                                  "repoDigests": [f"{reference.rsplit(':', 1)[0]}@{digest}"]}},
            "distro": {"name": "debian", "version": "12"},
            "descriptor": {"name": "grype", "version": "0.80.0"}}


def cyclonedx(digest: str, reference: str, vulns: list[Vuln]) -> dict[str, Any]:
    """Components with Syft's location properties; a nested jar is a component of its outer jar."""
    components: dict[str, dict[str, Any]] = {}
    for v in vulns:
        ref = f"{v.type}:{v.name}@{v.version}"
        component: dict[str, Any] = {"bom-ref": ref, "type": "library", "name": v.name, "version": v.version}
        if v.purl:
            component["purl"] = v.purl
        if locations := grype_locations(v):  # syft's catalogers, as Grype's come from them
            component["properties"] = [{"name": f"syft:location:{n}:path", "value": loc["path"]}
                                       for n, loc in enumerate(locations)]
        if v.nested_in:
            outer = components.setdefault(v.nested_in, {"bom-ref": v.nested_in, "type": "library",
                                                        "name": v.nested_in.rsplit("/", 1)[-1], "components": []})
            outer.setdefault("components", []).append(component)
        else:
            components[ref] = component
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "container", "name": reference, "version": digest,
                                   "purl": f"pkg:oci/{reference.rsplit('/', 1)[-1].split(':')[0]}@"
                                           f"{digest.replace(':', '%3A')}"}},
        "components": list(components.values()),
        "vulnerabilities": [{"id": v.id, "ratings": [{"severity": v.severity.lower()}],
                             "affects": [{"ref": f"{v.type}:{v.name}@{v.version}"}]} for v in vulns],
    }


FORMATS = {"trivy": trivy, "grype": grype, "cyclonedx": cyclonedx}
