"""/api/v1/images/{ref}/slim: what ``snoop slim`` needs to build a slim image from the evidence, so that a
build machine needs the collector and the image's layers and nothing else."""

from __future__ import annotations

import hashlib
import os

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from snoop.collector.api.deps import SessionDep, image_or_404
from snoop.collector.api.render import SafeJSONResponse, iso
from snoop.collector.reports.coverage import coverage
from snoop.collector.reports.images import image_files
from snoop.collector.reports.query import FileFilter
from snoop.common.file_types import DIR, KEEP
from snoop.common.file_types import NAMES as TYPE_NAMES

router = APIRouter(prefix="/images", tags=["slim"])


@router.get("/{digest:path}/slim", response_model=None)
def slim_plan(digest: str, session: SessionDep) -> Response:
    """The paths the image's containers used (files, symlinks, untyped paths and the directories they
    listed; runtime mounts are not the image's), and the evidence a slim image's labels name."""
    image = image_or_404(session, digest)
    rows = image_files(session, image, FileFilter(types=(*KEEP, DIR)))
    if not rows:
        raise HTTPException(409, f"no container of {image.digest} has used a file yet: nothing to slim from")
    keep = [r[0] for r in rows if r[5] in KEEP]
    last_new = max(r[3] for r in rows)
    cov = coverage(session, image, last_new)
    evidence = {"instances": cov["instances"], "nodes": cov["nodes"], "observed_seconds": cov["observed_seconds"],
                "last_new_file": iso(last_new),
                "keep_list_sha256": hashlib.sha256(b"".join(p + b"\n" for p in keep)).hexdigest()}
    return SafeJSONResponse({"digest": image.digest,
                             "paths": [{"path": os.fsdecode(r[0]), "type": TYPE_NAMES[r[5]]} for r in rows],
                             "evidence": evidence})
