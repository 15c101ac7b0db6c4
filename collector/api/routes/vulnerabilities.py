"""/api/v1/images/{ref}/vulnerabilities and /sbom: a scanner's findings judged by what really ran."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from snoop.collector.api import schemas
from snoop.collector.api.deps import SessionDep, get_session, image_or_404
from snoop.collector.api.render import image_json
from snoop.collector.encoding import SafeJSONResponse
from snoop.collector.reports.contents import inventory_of, packages
from snoop.collector.reports.filters import Page
from snoop.collector.reports.images import image_summaries
from snoop.collector.storage.models import Image, ImageReference
from snoop.collector.vulns.documents import openvex, sbom
from snoop.collector.vulns.scans import ReportError, Scan, parse
from snoop.collector.vulns.service import findings_of, latest, store, verdicts

router = APIRouter(prefix="/images", tags=["vulnerabilities"])
MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # CycloneDX nests components (a jar in a jar); scanners stay far below this


def depth(doc: object) -> int:
    """How deep a decoded JSON document nests, counted without recursion."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        node, level = todo.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            todo += [(child, level + 1) for child in (node.values() if isinstance(node, dict) else node)]
    return deepest


class VulnFormat(StrEnum):
    json = "json"
    openvex = "openvex"


class Used(StrEnum):
    true = "true"
    false = "false"
    all = "all"


def _reference(session: Session, image: Image) -> str | None:
    return session.scalar(select(ImageReference.reference).where(ImageReference.image_id == image.id)
                          .order_by(ImageReference.last_seen_ns.desc()).limit(1))


def _answer(session: Session, image: Image, scanner: str, findings: list, fmt: VulnFormat) -> dict[str, Any]:
    judged = verdicts(session, image, findings)
    if fmt is VulnFormat.openvex:
        return openvex(image.digest, _reference(session, image), judged, judged["coverage"], time.time_ns())
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    return {"image": image_json(summaries[0]), "scanner": scanner, **judged}


def _scan_of(body: bytes, image: Image) -> Scan:
    """The report as findings, or a 4xx that names what is wrong with it."""
    if len(body) > MAX_REPORT_BYTES:
        raise HTTPException(413, f"the report is {len(body):,} bytes; at most {MAX_REPORT_BYTES:,} are taken")
    too_deep = HTTPException(422, f"the report nests deeper than {MAX_DEPTH} levels: no scanner writes that")
    try:
        doc = orjson.loads(body)  # in C, without recursion
    except orjson.JSONDecodeError as exc:
        raise (too_deep if "depth limit" in str(exc) else  # orjson stops at 1,024 levels
               HTTPException(400, f"the report is not JSON: {exc}")) from exc
    if depth(doc) > MAX_DEPTH:
        raise too_deep
    try:
        scan = parse(doc)
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from exc
    if scan.digests and image.digest not in scan.digests:
        raise HTTPException(422, f"the report is of {', '.join(sorted(scan.digests))}, not of {image.digest}")
    return scan


@router.post("/{digest:path}/vulnerabilities", response_model=None,
             responses={200: {"model": schemas.Vulnerabilities}})
async def upload_scan(digest: str, request: Request, session: Session = Depends(get_session),  # noqa: B008
                      format: VulnFormat = VulnFormat.json) -> Response:  # noqa: A002
    """A Trivy, Grype, CycloneDX or SPDX report of the image: stored (the latest per scanner), then
    answered as in GET, with ``warnings`` about what was read but may be missed (a newer CycloneDX).
    Nothing of a report that is refused is stored."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_REPORT_BYTES:
        raise HTTPException(413, f"the report is {declared:,} bytes; at most {MAX_REPORT_BYTES:,} are taken")
    body = await request.body()

    def work() -> dict[str, Any]:
        image = image_or_404(session, digest)
        scan = _scan_of(body, image)
        store(session, image, scan, time.time_ns())
        session.commit()
        answer = _answer(session, image, scan.scanner, scan.findings, format)
        return answer if format is VulnFormat.openvex else answer | {"warnings": scan.warnings}

    return SafeJSONResponse(await run_in_threadpool(work))


@router.get("/{digest:path}/vulnerabilities", response_model=None,
            responses={200: {"model": schemas.Vulnerabilities}})
def scan_verdicts(digest: str, session: SessionDep, scanner: str | None = None,
                  format: VulnFormat = VulnFormat.json) -> Response:  # noqa: A002
    """The latest stored scan (of ``scanner`` if given), judged against the usage now."""
    image = image_or_404(session, digest)
    row = latest(session, image, scanner)
    if row is None:
        raise HTTPException(404, f"no vulnerability report stored for {image.digest}"
                                 + (f" from {scanner}" if scanner else "") + "; POST one to this URL")
    return SafeJSONResponse(_answer(session, image, row.scanner, findings_of(row), format))


@router.get("/{digest:path}/sbom", response_model=None, responses={
    200: {"content": {"application/vnd.cyclonedx+json": {}}, "description": "CycloneDX 1.5 JSON"}})
def image_sbom(digest: str, session: SessionDep, used: Used = Used.true) -> Response:
    """CycloneDX 1.5 JSON of the image's packages: the used ones (a filtered SBOM to scan again), the
    unused ones, or all."""
    image = image_or_404(session, digest)
    if inventory_of(session, image) is None:
        raise HTTPException(409, f"no inventory of {image.digest} yet: an agent records it when it first runs "
                                 "a container of the image")
    found = packages(session, image, None if used is Used.all else used is Used.true)
    return Response(sbom(image.digest, _reference(session, image), found).encode(),
                    media_type="application/vnd.cyclonedx+json")
