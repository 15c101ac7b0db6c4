"""/api/v1/images/{ref}/slim: what ``snoop slim`` needs to build a slim image from the evidence, so that a
build machine needs the collector and the image's layers and nothing else; /verification: what a slim
image's containers looked for and did not find (``snoop verify``)."""

from __future__ import annotations

import hashlib
import os

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from snoop.collector.api import schemas
from snoop.collector.api.deps import SessionDep, image_or_404
from snoop.collector.encoding import SafeJSONResponse, iso
from snoop.collector.reports.coverage import coverage
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import image_files
from snoop.collector.reports.verification import missing_in_slims, verification
from snoop.common.file_types import DIR, KEEP
from snoop.common.file_types import NAMES as TYPE_NAMES

router = APIRouter(prefix="/images", tags=["slim"])


@router.get("/{digest:path}/slim", response_model=None, responses={200: {"model": schemas.SlimPlan}})
def slim_plan(digest: str, session: SessionDep) -> Response:
    """The paths the image's containers used (files, symlinks, untyped paths and the directories they
    listed; runtime mounts are not the image's), every path its slim images were found to miss, and the
    evidence a slim image's labels name."""
    image = image_or_404(session, digest)
    rows = image_files(session, image, FileFilter(types=(*KEEP, DIR)))
    if not rows:
        raise HTTPException(409, f"no container of {image.digest} has used a file yet: nothing to slim from")
    missed = missing_in_slims(session, image)
    keep = [r[0] for r in rows if r[5] in KEEP]
    last_new = max(r[3] for r in rows)
    cov = coverage(session, image, last_new)
    evidence = {"instances": cov["instances"], "nodes": cov["nodes"], "observed_seconds": cov["observed_seconds"],
                "last_new_file": iso(last_new),
                "keep_list_sha256": hashlib.sha256(b"".join(p + b"\n" for p in keep)).hexdigest()}
    evidence["missed_by_slim_images"] = len(missed)
    return SafeJSONResponse({"digest": image.digest,
                             "paths": [{"path": os.fsdecode(r[0]), "type": TYPE_NAMES[r[5]]} for r in rows]
                             + [{"path": os.fsdecode(p), "type": "missing"} for p in missed],
                             "evidence": evidence})


@router.get("/{digest:path}/verification", response_model=None,
            responses={200: {"model": schemas.Verification}})
def slim_verification(digest: str, session: SessionDep) -> Response:
    """Whether a slim image runs on what it kept: ``status`` clean (observed, nothing missing), broken
    (its containers looked for files its base holds), or unobserved; ``missing`` names them."""
    image = image_or_404(session, digest)
    found = verification(session, image)
    if found is None:
        raise HTTPException(409, f"{image.digest} is no slim image snoop built (no agent reported its "
                                 "org.opencontainers.image.base.digest label)")
    found["coverage"]["last_new_file"] = iso(found["coverage"].pop("last_new_file_ns"))
    for m in found["missing"]:
        m["last_seen"] = iso(m.pop("last_seen_ns"))
    return SafeJSONResponse({"image": image.digest, **found})
