"""/api/v1/images: which images ran, and the files each used, merged across pods, nodes, restarts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from collector.api.deps import Limit, Offset, SessionDep, file_filter, since_ns
from collector.api.render import (
    Format,
    SafeJSONResponse,
    file_json,
    file_list_response,
    image_json,
    keep_list,
)
from collector.reports.cache import ReportCache, fingerprint
from collector.reports.images import Page, find_image, image_files, image_paths, image_summaries

router = APIRouter(prefix="/images", tags=["images"])


@router.get("")
def list_images(
    session: SessionDep, namespace: str | None = None, since: str | None = None, limit: Limit = None,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Images seen running, newest first, with how many container instances and files each has."""
    images, total = image_summaries(session, Page(limit, offset), namespace=namespace, since_ns=since_ns(since))
    return {"images": [image_json(i) for i in images], "total": total}


@router.get("/{digest:path}/files", response_model=None)
def files_of_image(
    digest: str,
    session: SessionDep,
    request: Request,
    prefix: str | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query(description="file, dir, symlink, runtime, unknown")] = None,  # noqa: A002
    since: str | None = None,
    format: Format = Format.json,  # noqa: A002 - the public query parameter's name
    limit: Limit = None,
    offset: Offset = 0,
) -> Response:
    """Files of an image merged across all pods, nodes and restarts; ``digest`` may be a reference."""
    image = find_image(session, digest)
    if image is None:
        raise HTTPException(404, f"no image with digest or reference {digest!r}")
    wanted = file_filter(prefix, kind, since, type, format)
    cache: ReportCache = request.app.state.report_cache
    stamp = fingerprint(session, image.id)
    if format is Format.text and limit is None and not offset:  # the keep-list needs the paths only
        return keep_list(cache.get(("paths", image.id, wanted), stamp, lambda: image_paths(session, image, wanted)))
    rows = cache.get(("rows", image.id, wanted), stamp, lambda: image_files(session, image, wanted))
    page = slice(offset, None if limit is None else offset + limit)
    if format is not Format.json:
        return file_list_response(rows[page], format)
    encode = SafeJSONResponse.encode
    if limit is None and not offset:  # the whole report: worth keeping encoded (17 MB for 100,000 files)
        files = cache.get(("json", image.id, wanted), stamp, lambda: encode([file_json(r) for r in rows]))
    else:
        files = encode([file_json(r) for r in rows[page]])
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    # Assembled from encoded parts: FastAPI would otherwise walk every row through jsonable_encoder.
    body = b'{"image":%s,"files":%s,"total":%d}' % (encode(image_json(summaries[0])), files, len(rows))
    return Response(body, media_type="application/json")
