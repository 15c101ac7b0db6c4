"""/api/v1/images: which images ran, and the files each used, merged across pods, nodes, restarts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from collector.api.deps import Limit, Offset, SessionDep, file_filter, image_or_404, since_ns
from collector.api.render import (
    Format,
    SafeJSONResponse,
    file_json,
    file_list_response,
    image_json,
    keep_list,
)
from collector.reports.cache import ReportCache, fingerprint
from collector.reports.images import image_files, image_files_page, image_paths, image_summaries
from collector.reports.query import FileFilter, Page
from common.file_types import KEEP

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
    image = image_or_404(session, digest)
    wanted = file_filter(prefix, kind, since, type, format)
    encode = SafeJSONResponse.encode
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    if limit is not None or offset:  # a page: read from the database, never the whole image
        rows, total = image_files_page(session, image, wanted, Page(limit, offset))
        if format is not Format.json:
            return file_list_response(rows, format)
        files = encode([file_json(r) for r in rows])
    else:
        # The whole report. Unfiltered ones are cached (one per image and format: a filter is no new
        # entry), and concurrent misses compute once.
        cache: ReportCache = request.app.state.report_cache
        stamp = fingerprint(session, image.id)
        cached = wanted in (FileFilter(), FileFilter(types=KEEP))
        get = (lambda kind, compute: cache.get((kind, image.id, wanted), stamp, compute)) if cached \
            else (lambda _kind, compute: compute())
        if format is Format.text:  # the keep-list needs the paths only
            return keep_list(get("paths", lambda: image_paths(session, image, wanted)))
        rows = get("rows", lambda: image_files(session, image, wanted))
        total = len(rows)
        if format is not Format.json:
            return file_list_response(rows, format)
        files = get("json", lambda: encode([file_json(r) for r in rows]))  # 17 MB for 100,000 files
    # Assembled from encoded parts: FastAPI would otherwise walk every row through jsonable_encoder.
    body = b'{"image":%s,"files":%s,"total":%d}' % (encode(image_json(summaries[0])), files, total)
    return Response(body, media_type="application/json")
