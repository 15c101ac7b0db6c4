"""Scanner reports -> findings: Trivy JSON, Grype JSON, CycloneDX 1.4-1.7 JSON (later 1.x read with a
warning) and SPDX 2.3 JSON with advisory references, told apart by content.

A finding is one vulnerability of one package as the scanner saw it: its id and severity, the package's
type, name, version and purl where given, and the files the scanner found it in. The image a report
names (by manifest digest) is kept, so that a report for another image can be refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    scanner: str                       # trivy | grype | cyclonedx | spdx
    findings: list[Finding] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)  # manifest digests the report says it is of
    warnings: list[str] = field(default_factory=list)  # read, but the sender should know (a newer version)


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


CYCLONEDX_KNOWN = (4, 7)  # minor versions of 1.x read as they are; vulnerabilities came with 1.4


def _cyclonedx_version(doc: dict) -> list[str]:
    """The warnings a CycloneDX version gives, or a ReportError for one that cannot be read."""
    version = str(doc.get("specVersion"))
    major, _, minor = version.partition(".")
    if major != "1" or not minor.isdigit():
        raise ReportError(f"CycloneDX {version}: only 1.x is read")
    if int(minor) < CYCLONEDX_KNOWN[0]:
        raise ReportError(f"CycloneDX {version} carries no vulnerabilities (they came with 1.4): 1.4 to 1.7 are "
                          "read")
    if int(minor) > CYCLONEDX_KNOWN[1]:
        return [f"CycloneDX {version} is newer than 1.{CYCLONEDX_KNOWN[1]}, the newest snoop knows: read by the "
                "1.7 fields (components, properties, evidence, vulnerabilities); anything newer is ignored"]
    return []


def cyclonedx(doc: dict) -> Scan:
    warnings = _cyclonedx_version(doc)
    if "vulnerabilities" not in doc:
        raise ReportError("CycloneDX: no vulnerabilities section, so nothing to judge; this is an SBOM, not a scan "
                          "(scan it, e.g. grype sbom:FILE -o cyclonedx-json, trivy sbom FILE -f cyclonedx "
                          "--scanners vuln, and send that)")
    subject = _obj(_obj(doc, "metadata"), "component")
    scan = Scan("cyclonedx", digests=_digests(subject.get("purl"), subject.get("version")), warnings=warnings)
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


_ADVISORY_ID = re.compile(r"(CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|[A-Z]+-\d{4}-\d+)", re.I)


def _spdx_paths(doc: dict) -> dict[str, list[str]]:
    """SPDXID of a package -> the files the document relates to it (CONTAINS, syft's evident-by, hasFiles)."""
    files = {_text(f, "SPDXID"): _text(f, "fileName") for f in _list(doc, "files") if isinstance(f, dict)}
    out: dict[str, list[str]] = {}
    for r in _list(doc, "relationships"):
        if isinstance(r, dict) and r.get("relationshipType") in ("CONTAINS", "OTHER"):
            name = files.get(_text(r, "relatedSpdxElement"))
            if name and (r["relationshipType"] == "CONTAINS" or "evident-by" in _text(r, "comment")):
                out.setdefault(_text(r, "spdxElementId"), []).append(name)
    for p in _list(doc, "packages"):
        if isinstance(p, dict):
            out.setdefault(_text(p, "SPDXID"), []).extend(files[f] for f in _list(p, "hasFiles") if f in files)
    return out


def spdx(doc: dict) -> Scan:
    """SPDX 2.3: each package's SECURITY ``advisory`` references are its findings (SPDX has no severities)."""
    if doc.get("spdxVersion") != "SPDX-2.3":
        raise ReportError(f"SPDX {doc.get('spdxVersion')}: only SPDX-2.3 JSON is read")
    scan = Scan("spdx", digests=_digests(_text(doc, "name"), _text(doc, "documentNamespace")))
    paths = _spdx_paths(doc)
    packages = [p for p in _list(doc, "packages") if isinstance(p, dict)]
    for p in packages:
        refs = [r for r in _list(p, "externalRefs") if isinstance(r, dict)]
        purl = next((_text(r, "referenceLocator") for r in refs if _text(r, "referenceType") == "purl"), "")
        for r in refs:
            found = _ADVISORY_ID.search(_text(r, "referenceLocator")) if (
                r.get("referenceCategory") == "SECURITY" and r.get("referenceType") == "advisory") else None
            if found:
                scan.findings.append(Finding(
                    id=found.group(1).upper(), severity="UNKNOWN", type=purl_type(purl), name=_text(p, "name"),
                    version=_text(p, "versionInfo"), purl=purl, paths=tuple(paths.get(_text(p, "SPDXID"), []))))
    if not scan.findings:
        raise ReportError(f"SPDX 2.3: {len(packages)} packages but no vulnerabilities (no SECURITY advisory "
                          "reference), so nothing to judge; scan it (grype sbom:FILE -o json, trivy sbom FILE "
                          "-f json) and send that report")
    return scan


def parse(doc: Any) -> Scan:
    """The report's format, from its content; a ReportError names what is missing."""
    if not isinstance(doc, dict):
        raise ReportError("a scanner report is a JSON object")
    if doc.get("bomFormat") == "CycloneDX":
        return cyclonedx(doc)
    if "spdxVersion" in doc:
        return spdx(doc)
    if "matches" in doc and ("source" in doc or "descriptor" in doc):
        return grype(doc)
    if "Results" in doc or ("SchemaVersion" in doc and "ArtifactName" in doc):
        return trivy(doc)
    raise ReportError("unknown report format: expected Trivy JSON (Results), Grype JSON (matches), "
                      "CycloneDX JSON (bomFormat) or SPDX 2.3 JSON (spdxVersion)")
