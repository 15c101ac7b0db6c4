"""Which findings sit in what the image's containers really used, with the evidence.

A finding is placed in the image's inventory by its purl (qualifiers aside), else by type, name and
version (name and version when the report gives no type), and by the files the scanner found it in: a
file found is in the image, and so are the packages that own it. A nested package (a jar inside a jar,
a Go module inside a binary) is reported at its outer file, and so lands on that file and its owners.
A location shared by many packages (a package database, a lock file: ``locations.py``) places nothing,
since it is in the image whether the package is or not.
A finding is in use when a container used a file of a package it was placed on, or one of its files;
not in use when placed but never used; unknown, with the reason, when the inventory cannot place it
(no complete inventory yet, or nothing matches): never dropped.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from snoop.collector.reports.contents import Used, inventory_of, used_files
from snoop.collector.reports.filters import fetch_all
from snoop.collector.storage.models import Image, InventoryFile, Package, PackageFile, Path
from snoop.collector.storage.write import path_digest
from snoop.collector.vulns.locations import shared_metadata
from snoop.collector.vulns.scans import SEVERITIES, TYPES, Finding

VERDICTS = ("in_use", "not_in_use", "unknown")
EVIDENCE_FILES = 5
PENDING = "the image's inventory is not complete yet: verdicts follow once an agent has recorded it"
UNPLACED = "the inventory holds no package of this name and version, nor a file of it the scanner named"
ONLY_METADATA = ("the scanner located it only in a package database or lock file, which proves nothing; the "
                 "inventory holds no package of this name and version")
_NESTED = re.compile(r"[!:]")  # app.jar!/BOOT-INF/lib/x.jar, outer.jar:inner.jar: the outer file holds it


def purl_key(purl: str) -> str:
    """``pkg:type/namespace/name@version``: qualifiers and subpath aside, names compared as the
    ecosystem compares them (PyPI: case and ``-``/``_`` alike)."""
    core = purl.split("?", 1)[0].split("#", 1)[0].lower()
    if core.startswith("pkg:pypi/"):  # the name as PEP 503 normalises it; the version as it is (6.0.1, 2.1+cpu)
        name, at, version = core.removeprefix("pkg:pypi/").partition("@")
        core = f"pkg:pypi/{re.sub(r'[-_.]+', '-', name)}{at}{version.replace('%2b', '+')}"
    return core


def name_key(type_: str, name: str, version: str) -> tuple[str, str, str]:
    kind = TYPES.get(type_, type_)
    if kind == "python":
        name = re.sub(r"[-_.]+", "-", name).lower()
    return kind, name, version


def image_path(location: str) -> bytes:
    """A scanner's location as an absolute path of the image (Trivy's are relative), nesting cut off."""
    outer = _NESTED.split(location, 1)[0]
    return os.fsencode("/" + outer.lstrip("/"))


def proving_paths(finding: Finding) -> list[bytes]:
    """The finding's locations that can place it: the package's own files, not shared metadata."""
    return [image_path(p) for p in finding.paths if not shared_metadata(os.fsdecode(image_path(p)))]


@dataclass
class Placement:
    packages: set[int] = field(default_factory=set)
    files: set[int] = field(default_factory=set)  # inventory path ids the scanner named


@dataclass(frozen=True)
class ImagePackages:
    by_purl: dict[str, set[int]]
    by_name: dict[tuple[str, str, str], set[int]]
    by_bare_name: dict[tuple[str, str], set[int]]  # for findings of no known type (a component without purl)

    @staticmethod
    def load(session: Session, image: Image) -> ImagePackages:
        by_purl: dict[str, set[int]] = {}
        by_name: dict[tuple[str, str, str], set[int]] = {}
        by_bare_name: dict[tuple[str, str], set[int]] = {}
        for pid, type_, name, version, purl in session.execute(
                select(Package.id, Package.type, Package.name, Package.version, Package.purl)
                .where(Package.image_id == image.id)):
            by_purl.setdefault(purl_key(purl), set()).add(pid)
            by_name.setdefault(name_key(type_, name, version), set()).add(pid)
            by_bare_name.setdefault((name, version), set()).add(pid)
        return ImagePackages(by_purl, by_name, by_bare_name)


def _locations(session: Session, image: Image, findings: list[Finding]) -> dict[bytes, set[int]]:
    """The scanners' locations that are inventory files: path -> marks, the owner packages' ids and
    the file's own path id negated."""
    wanted = {p for f in findings for p in proving_paths(f)}
    if not wanted:
        return {}
    digests = {path_digest(p): p for p in wanted}
    rows = fetch_all(session, select(Path.path, InventoryFile.path_id, PackageFile.package_id)
                     .join(InventoryFile, and_(InventoryFile.path_id == Path.id, InventoryFile.image_id == image.id))
                     .outerjoin(PackageFile, and_(PackageFile.image_id == image.id,
                                                  PackageFile.path_id == InventoryFile.path_id))
                     .where(Path.digest.in_(list(digests))))
    marks: dict[bytes, set[int]] = {}
    for path, path_id, package_id in rows:
        found = marks.setdefault(bytes(path), {-path_id})
        if package_id is not None:
            found.add(package_id)
    return marks


def place(finding: Finding, packages: ImagePackages, located: dict[bytes, set[int]]) -> Placement:
    found = Placement()
    if finding.purl:
        found.packages |= packages.by_purl.get(purl_key(finding.purl), set())
    if not found.packages and finding.type:
        found.packages |= packages.by_name.get(name_key(finding.type, finding.name, finding.version), set())
    elif not found.packages:
        found.packages |= packages.by_bare_name.get((finding.name, finding.version), set())
    for location in proving_paths(finding):
        for mark in located.get(location, set()):
            (found.files if mark < 0 else found.packages).add(abs(mark))
    return found


def _evidence(used: Used, placement: Placement, paths: dict[int, bytes]) -> dict[str, Any] | None:
    files = {p for pid in placement.packages for p in used.by_package.get(pid, [])}
    files |= {p for p in placement.files if p in used.files}
    if not files:
        return None
    ranked = sorted(files, key=lambda p: paths.get(p, b""))
    return {"files": [os.fsdecode(paths[p]) for p in ranked[:EVIDENCE_FILES] if p in paths],
            "containers": max(used.seen[p][0] for p in files),
            "last_seen_ns": max(used.seen[p][1] for p in files)}


def classify(session: Session, image: Image, findings: list[Finding]) -> dict[str, list[dict[str, Any]]]:
    """Each finding as in use (with evidence), not in use, or unknown."""
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in VERDICTS}
    if inventory_of(session, image) is None:
        out["unknown"] = [_entry(f, None, PENDING) for f in findings]
        return out
    packages = ImagePackages.load(session, image)
    used = used_files(session, image)
    located = _locations(session, image, findings)
    placements = [place(f, packages, located) for f in findings]
    evidence_ids = {p for pl in placements for pid in pl.packages for p in used.by_package.get(pid, [])}
    evidence_ids |= {p for pl in placements for p in pl.files if p in used.files}
    paths = dict(fetch_all(session, select(Path.id, Path.path).where(Path.id.in_(evidence_ids)))) \
        if evidence_ids else {}
    paths = {k: bytes(v) for k, v in paths.items()}
    for finding, placement in zip(findings, placements, strict=True):
        if not placement.packages and not placement.files:
            metadata_only = finding.paths and not proving_paths(finding)
            out["unknown"].append(_entry(finding, None, ONLY_METADATA if metadata_only else UNPLACED))
            continue
        evidence = _evidence(used, placement, paths)
        out["in_use" if evidence else "not_in_use"].append(_entry(finding, evidence))
    for entries in out.values():
        entries.sort(key=lambda e: (SEVERITIES.index(e["severity"]), e["id"], e["package"]))
    return out


def _entry(f: Finding, evidence: dict[str, Any] | None, unknown_because: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"id": f.id, "severity": f.severity, "package": f.name, "version": f.version,
                             "type": f.type, "purl": f.purl}
    if evidence is not None:
        entry["evidence"] = evidence
    if unknown_because:
        entry["reason"] = unknown_because
    return entry


def counts(verdicts: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    return {v: dict(Counter(e["severity"] for e in entries)) for v, entries in verdicts.items()}
