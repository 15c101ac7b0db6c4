"""Stored scans and their verdicts, as the REST API and the diff need them. No FastAPI here."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from snoop.collector.encoding import iso
from snoop.collector.reports.contents import inventory_of
from snoop.collector.reports.coverage import coverage
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.models import Image, ImageFile, VulnerabilityScan
from snoop.collector.vulns.relevance import classify, counts
from snoop.collector.vulns.scans import Finding, Scan


def store(session: Session, image: Image, scan: Scan, now_ns: int) -> None:
    """The scan becomes the image's latest of its scanner."""
    stmt = dialect_of(session).insert(VulnerabilityScan).values(
        image_id=image.id, scanner=scan.scanner, findings=orjson.dumps(scan.findings).decode(), uploaded_ns=now_ns)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[VulnerabilityScan.image_id, VulnerabilityScan.scanner],
        set_={"findings": stmt.excluded.findings, "uploaded_ns": stmt.excluded.uploaded_ns}))


def latest(session: Session, image: Image, scanner: str | None = None) -> VulnerabilityScan | None:
    q = select(VulnerabilityScan).where(VulnerabilityScan.image_id == image.id)
    if scanner:
        q = q.where(VulnerabilityScan.scanner == scanner)
    return session.scalars(q.order_by(VulnerabilityScan.uploaded_ns.desc()).limit(1)).first()


def scan_stamp(session: Session, image: Image) -> int:
    """Moves whenever a scan of the image is stored: what cached answers that show verdicts check."""
    return session.scalar(select(func.max(VulnerabilityScan.uploaded_ns))
                          .where(VulnerabilityScan.image_id == image.id)) or 0


def findings_of(row: VulnerabilityScan) -> list[Finding]:
    return [Finding(**{**f, "paths": tuple(f["paths"])}) for f in orjson.loads(row.findings)]


def verdicts(session: Session, image: Image, findings: list[Finding]) -> dict[str, Any]:
    """The answer of /vulnerabilities: counts by severity and each finding with its evidence."""
    judged = classify(session, image, findings)
    for entries in judged.values():
        for entry in entries:
            if "evidence" in entry:
                entry["evidence"]["last_seen"] = iso(entry["evidence"].pop("last_seen_ns"))
    last_new = session.scalar(select(func.max(ImageFile.first_seen_ns)).where(ImageFile.image_id == image.id))
    cov = coverage(session, image, last_new or 0)
    cov["last_new_file"] = iso(cov.pop("last_new_file_ns"))
    pending = inventory_of(session, image) is None
    return {"inventory": "pending" if pending else "complete", "coverage": cov, "counts": counts(judged), **judged}


def in_use_ids(session: Session, image: Image) -> set[str] | None:
    """Ids of the vulnerabilities in use in the image by its latest scan; None without a scan."""
    row = latest(session, image)
    if row is None:
        return None
    return {e["id"] for e in classify(session, image, findings_of(row))["in_use"]}


def in_use_counts(session: Session, image_ids: list[int]) -> dict[int, dict[str, int]]:
    """image id -> in-use counts by severity, for the images that have a scan."""
    out = {}
    scanned = set(session.scalars(select(VulnerabilityScan.image_id).where(VulnerabilityScan.image_id.in_(image_ids))))
    for image in session.scalars(select(Image).where(Image.id.in_(scanned))):
        row = latest(session, image)
        assert row is not None
        out[image.id] = counts(classify(session, image, findings_of(row)))["in_use"]
    return out
