"""/api/v1/images: which images ran, and the files each used, merged across pods, nodes, restarts."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from collector.api.deps import SessionDep
from collector.api.render import (
    Format,
    csv_response,
    file_json,
    image_json,
    iso,
    keep_list,
    kind_bits,
    kind_names,
)
from collector.reports.images import FileFilter, Page, find_image, image_files, image_summaries

router = APIRouter(prefix="/images", tags=["images"])

Limit = Annotated[int | None, Query(ge=1, le=1_000_000, description="page size; all when omitted")]
Offset = Annotated[int, Query(ge=0)]


def file_filter(prefix: str | None, kind: list[str] | None, since: str | None) -> FileFilter:
    try:
        bits = kind_bits(kind or [])
        since_ns = int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1e9) if since else 0
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return FileFilter(prefix=os.fsencode(prefix) if prefix else None, kinds=bits, since_ns=since_ns)


@router.get("")
def list_images(session: SessionDep, limit: Limit = None, offset: Offset = 0) -> dict[str, Any]:
    images, total = image_summaries(session, Page(limit, offset))
    return {"images": [image_json(i) for i in images], "total": total}


@router.get("/{digest:path}/files", response_model=None)
def files_of_image(
    digest: str,
    session: SessionDep,
    prefix: str | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    since: str | None = None,
    format: Format = Format.json,  # noqa: A002 - the public query parameter's name
    limit: Limit = None,
    offset: Offset = 0,
) -> dict[str, Any] | Response:
    image = find_image(session, digest)
    if image is None:
        raise HTTPException(404, f"no image with digest or reference {digest!r}")
    rows, total = image_files(session, image, file_filter(prefix, kind, since), Page(limit, offset))
    if format is Format.text:
        return keep_list(r["path"] for r in rows)
    if format is Format.csv:
        return csv_response(
            ["path", "containers", "kinds", "first_seen", "last_seen"],
            ([os.fsdecode(r["path"]), r["containers"], "|".join(kind_names(r["kinds"])),
              iso(r["first_seen_ns"]), iso(r["last_seen_ns"])] for r in rows),
        )
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    return {"image": image_json(summaries[0]), "files": [file_json(r) for r in rows], "total": total}
