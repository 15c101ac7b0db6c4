"""Scanner reports -> findings: Trivy JSON, Grype JSON and CycloneDX 1.5/1.6 JSON, told apart by content.

A finding is one vulnerability of one package as the scanner saw it: its id and severity, the package's
type, name, version and purl where given, and the files the scanner found it in. The image a report
names (by manifest digest) is kept, so that a report for another image can be refused.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Scanner package types -> the inventory's (deb, apk, rpm, python, npm); others stay as the scanner says.
TYPES = {
    "debian": "deb", "ubuntu": "deb", "deb": "deb", "alpine": "apk", "apk": "apk", "wolfi": "apk",
    "redhat": "rpm", "centos": "rpm", "rocky": "rpm", "alma": "rpm", "amazon": "rpm", "rpm": "rpm",
    "python-pkg": "python", "pip": "python", "pipenv": "python", "poetry": "python", "python": "python",
    "pypi": "python", "node-pkg": "npm", "npm": "npm", "yarn": "npm", "pnpm": "npm",
    "jar": "java", "java-archive": "java", "pom": "java", "maven": "java", "gobinary": "go", "go-module": "go",
    "golang": "go",
}


class ReportError(ValueError):
    """The report cannot be taken; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    type: str
    name: str
    version: str
    purl: str = ""
    paths: tuple[str, ...] = ()


@dataclass
class Scan:
    scanner: str                       # trivy | grype | cyclonedx
    findings: list[Finding] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)  # manifest digests the report says it is of

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.findings]


def severity(value: Any) -> str:
    text = str(value or "").upper()
    return {"NEGLIGIBLE": "LOW", "INFO": "LOW", "NONE": "LOW", "MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}.get(
        text, text if text in SEVERITIES else "UNKNOWN")


def purl_type(purl: str) -> str:
    """The inventory's type for a purl's type (``pkg:pypi/…`` -> python)."""
    kind = purl[4:].split("/", 1)[0] if purl.startswith("pkg:") else ""
    return TYPES.get(kind, kind)


def _digests(*values: Any) -> set[str]:
    return {m for v in values for m in _DIGEST.findall(str(v or ""))}


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _obj(obj: Any, key: str) -> dict:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def trivy(doc: dict) -> Scan:
    meta = _obj(doc, "Metadata")
    scan = Scan("trivy", digests=_digests(*_list(meta, "RepoDigests")))
    for result in _list(doc, "Results"):
        if not isinstance(result, dict):
            raise ReportError("Trivy: Results[] holds something other than objects")
        target_type = _text(result, "Type")
        for v in _list(result, "Vulnerabilities"):
            if not isinstance(v, dict) or not _text(v, "VulnerabilityID") or not _text(v, "PkgName"):
                raise ReportError("Trivy: a vulnerability without VulnerabilityID or PkgName")
            purl = _text(_obj(v, "PkgIdentifier"), "PURL")
            paths = [p for p in (_text(v, "PkgPath"),) if p]
            if not paths and result.get("Class") == "lang-pkgs" and _text(result, "Target"):
                paths = [_text(result, "Target")]  # a binary's or a lock file's packages: the file itself
            scan.findings.append(Finding(
                id=v["VulnerabilityID"], severity=severity(v.get("Severity")),
                type=purl_type(purl) if purl else TYPES.get(target_type, target_type),
                name=v["PkgName"], version=_text(v, "InstalledVersion"), purl=purl, paths=tuple(paths)))
    return scan


def grype(doc: dict) -> Scan:
    target = _obj(_obj(doc, "source"), "target")
    scan = Scan("grype", digests=_digests(target.get("manifestDigest"), *_list(target, "repoDigests")))
    for m in _list(doc, "matches"):
        vuln, artifact = _obj(m, "vulnerability"), _obj(m, "artifact")
        if not _text(vuln, "id") or not _text(artifact, "name"):
            raise ReportError("Grype: a match without vulnerability.id or artifact.name")
        purl = _text(artifact, "purl")
        paths = [_text(loc, "path") for loc in _list(artifact, "locations") if isinstance(loc, dict)]
        kind = _text(artifact, "type")
        scan.findings.append(Finding(
            id=vuln["id"], severity=severity(vuln.get("severity")),
            type=purl_type(purl) if purl else TYPES.get(kind, kind), name=artifact["name"],
            version=_text(artifact, "version"), purl=purl, paths=tuple(p for p in paths if p)))
    return scan


def _components(items: list) -> list[dict]:
    """Every component, nested ones included (a jar inside a jar)."""
    out = []
    for c in items:
        if isinstance(c, dict):
            out.append(c)
            out += _components(_list(c, "components"))
    return out


def _component_paths(c: dict) -> list[str]:
    """Where a component was found: Syft's and Trivy's location properties, or CycloneDX evidence."""
    paths = [_text(p, "value") for p in _list(c, "properties") if isinstance(p, dict)
             and (_text(p, "name").startswith("syft:location:") and _text(p, "name").endswith(":path")
                  or _text(p, "name") == "aquasecurity:trivy:FilePath"
                  or _text(p, "name") == "aquasecurity:trivy:PkgPath")]
    paths += [_text(o, "location") for o in _list(_obj(c, "evidence"), "occurrences") if isinstance(o, dict)]
    return [p for p in paths if p]


def cyclonedx(doc: dict) -> Scan:
    if str(doc.get("specVersion")) not in ("1.5", "1.6"):
        raise ReportError(f"CycloneDX {doc.get('specVersion')}: only 1.5 and 1.6 are read")
    subject = _obj(_obj(doc, "metadata"), "component")
    scan = Scan("cyclonedx", digests=_digests(subject.get("purl"), subject.get("version")))
    by_ref = {_text(c, "bom-ref"): c for c in _components(_list(doc, "components")) if _text(c, "bom-ref")}
    for v in _list(doc, "vulnerabilities"):
        if not isinstance(v, dict) or not _text(v, "id"):
            raise ReportError("CycloneDX: a vulnerability without id")
        ratings = [r for r in _list(v, "ratings") if isinstance(r, dict) and r.get("severity")]
        worst = min((severity(r["severity"]) for r in ratings), key=SEVERITIES.index, default="UNKNOWN")
        for affected in _list(v, "affects"):
            ref = _text(affected, "ref") if isinstance(affected, dict) else ""
            c = by_ref.get(ref)
            if c is None:
                raise ReportError(f"CycloneDX: vulnerability {v['id']} affects {ref!r}, which no component is")
            purl = _text(c, "purl")
            scan.findings.append(Finding(id=v["id"], severity=worst, type=purl_type(purl), name=_text(c, "name"),
                                         version=_text(c, "version"), purl=purl, paths=tuple(_component_paths(c))))
    return scan


def parse(doc: Any) -> Scan:
    """The report's format, from its content; a ReportError names what is missing."""
    if not isinstance(doc, dict):
        raise ReportError("a scanner report is a JSON object")
    if doc.get("bomFormat") == "CycloneDX":
        return cyclonedx(doc)
    if "matches" in doc and ("source" in doc or "descriptor" in doc):
        return grype(doc)
    if "Results" in doc or ("SchemaVersion" in doc and "ArtifactName" in doc):
        return trivy(doc)
    raise ReportError("unknown report format: expected Trivy JSON (Results), Grype JSON (matches) or "
                      "CycloneDX JSON (bomFormat)")
