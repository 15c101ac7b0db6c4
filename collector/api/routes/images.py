"""/api/v1/images: which images ran, and the files each used, merged across pods, nodes, restarts."""

from __future__ import annotations

import os
from operator import itemgetter
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from snoop.collector.api import schemas
from snoop.collector.api.deps import (
    After,
    Limit,
    Offset,
    SessionDep,
    after_path,
    cursor,
    file_filter,
    image_or_404,
    since_ns,
)
from snoop.collector.api.render import (
    EncodedRows,
    Format,
    csv_response,
    encoded_rows,
    file_json,
    file_list_response,
    image_json,
    keep_list,
)
from snoop.collector.encoding import SafeJSONResponse, iso
from snoop.collector.reports.cache import ReportCache, fingerprint, shape
from snoop.collector.reports.contents import inventory_of, packages, summary, unused_files
from snoop.collector.reports.diff import cached_side
from snoop.collector.reports.filters import FileFilter, Page
from snoop.collector.reports.images import (
    count_files,
    image_files,
    image_files_page,
    image_paths,
    image_summaries,
)
from snoop.collector.storage.models import Image
from snoop.collector.vulns.service import in_use_counts
from snoop.common.file_types import KEEP
from snoop.common.file_types import NAMES as TYPE_NAMES

router = APIRouter(prefix="/images", tags=["images"])


@router.get("", response_model=None, responses={200: {"model": schemas.ImageList}})
def list_images(
    session: SessionDep, namespace: str | None = None, since: str | None = None, limit: Limit = None,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Images seen running, newest first, with how many container instances and files each has."""
    images, total = image_summaries(session, Page(limit, offset), namespace=namespace, since_ns=since_ns(since))
    in_use = in_use_counts(session, [i["id"] for i in images])
    return {"images": [image_json(i) | ({"vulnerabilities": {"in_use": in_use[i["id"]]}} if i["id"] in in_use
                                        else {}) for i in images], "total": total}


@router.get("/{digest:path}/summary", response_model=None, responses={200: {"model": schemas.Summary}})
def summary_of_image(digest: str, session: SessionDep) -> Response:
    """What the image holds against what its containers used: files, bytes, packages, and how much
    observation that rests on."""
    image = image_or_404(session, digest)
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest], with_bytes=False)
    out = {"image": image_json(summaries[0]), **summary(session, image)}
    out["image"]["bytes"] = out["inventory"]["bytes"]
    out["image"]["used_bytes"] = out["used"]["bytes"] if out["used"] else None
    out["coverage"]["last_new_file"] = iso(out["coverage"].pop("last_new_file_ns"))
    found = out["discovery"]
    found["stable_since"] = iso(found.pop("stable_since_ns")) if found["stable_since_ns"] else None
    found["curve"] = [{"at": iso(p["at_ns"]), "files": p["files"]} for p in found["curve"]]
    return SafeJSONResponse(out)


@router.get("/{digest:path}/packages", response_model=None, responses={200: {"model": schemas.Packages}})
def packages_of_image(
    digest: str, session: SessionDep, used: bool | None = None,
    format: Format = Format.json,  # noqa: A002
) -> Response:
    """The image's packages, each with its files and bytes and how many of them were used."""
    image = image_or_404(session, digest)
    found = packages(session, image, used)
    if format is Format.text:
        return Response("".join(f"{p['name']}\n" for p in found).encode(), media_type="text/plain")
    if format is Format.csv:
        columns = list(PACKAGE_COLUMNS)
        return csv_response(columns, ([p[c] for c in columns] for p in found))
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    return SafeJSONResponse({"image": image_json(summaries[0]), "packages": found, "total": len(found)})


PACKAGE_COLUMNS = ("type", "name", "version", "purl", "files", "bytes", "used_files", "used_bytes", "used")


def unused_response(session: Session, image: Image, prefix: str | None, format: Format,  # noqa: A002
                    page: Page) -> Response:
    """The files the image holds that no container used: the remove list."""
    if inventory_of(session, image) is None:
        raise HTTPException(409, f"no inventory of {image.digest} yet: an agent records it when it first runs "
                                 "a container of the image")
    rows, total = unused_files(session, image, os.fsencode(prefix) if prefix else None, page)
    if format is Format.text:
        return keep_list(r[0] for r in rows)
    if format is Format.csv:
        return csv_response(["path", "type", "size", "package"],
                            ([os.fsdecode(p), TYPE_NAMES[t], size, pkg] for p, size, t, pkg in rows))
    summaries, _ = image_summaries(session, Page(None), digests=[image.digest])
    files = [{"path": os.fsdecode(p), "type": TYPE_NAMES[t], "size": size, "package": pkg} for p, size, t, pkg in rows]
    return SafeJSONResponse({"image": image_json(summaries[0]), "files": files, "total": total})


@router.get("/{digest:path}/files", response_model=None, responses={200: {"model": schemas.ImageFiles}})
def files_of_image(
    digest: str,
    session: SessionDep,
    request: Request,
    used: Annotated[bool, Query(description="false: the image's files no container used (the remove list)")] = True,
    prefix: str | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query(description="file, dir, symlink, runtime, unknown")] = None,  # noqa: A002
    since: str | None = None,
    format: Format = Format.json,  # noqa: A002 - the public query parameter's name
    limit: Limit = None,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    """Files of an image merged across all pods, nodes and restarts, in path order; ``digest`` may be a
    reference. Pages: ``limit``, then ``after`` = the page's ``next`` (also its ``Link: rel="next"``)."""
    image = image_or_404(session, digest)
    if not used:
        return unused_response(session, image, prefix, format, Page(limit, offset))
    wanted = file_filter(prefix, kind, since, type, format)
    page = Page(limit, offset, after_path(after, offset))
    encode = SafeJSONResponse.encode
    # What is computed from the image's files is kept while they are unchanged (its fingerprint), and
    # concurrent misses compute once: whole reports (unfiltered ones: a filter is no new entry), and
    # the header and totals each page repeats (each costs more than reading the page).
    stamp = fingerprint(session, image.id)
    cache: ReportCache = request.app.state.report_cache
    counts: ReportCache = request.app.state.count_cache

    def header() -> bytes:
        return counts.get(("header", image.id), (*stamp, image.last_seen_ns), lambda: encode(image_json(
            image_summaries(session, Page(None), digests=[image.digest])[0][0])))

    if not page.everything:  # a page: an index range read, never the whole image
        rows, nodes = image_files_page(session, image, wanted, page)
        more = cursor(rows[-1][0]) if limit is not None and len(rows) == limit else None
        link = {"Link": f'<{request.url.remove_query_params("offset").include_query_params(after=more)}>; '
                        'rel="next"'} if more else {}
        if format is not Format.json:
            response = file_list_response(rows, format, details=True)
            response.headers.update(link)
            return response
        total = counts.get(("total", image.id, wanted), stamp, lambda: count_files(session, image, wanted))
        body = b'{"image":%s,"files":%s,"total":%d,"next":%s}' % (header(), encode(
            [file_json(r) | {"nodes": n} for r, n in zip(rows, nodes, strict=True)]), total, encode(more))
        return Response(body, media_type="application/json", headers=link)
    if format is Format.text:  # the paths only, which a new container of known files keeps
        if wanted == FileFilter(types=KEEP):  # the keep-list is what a diff compares: one entry for both
            return keep_list(map(itemgetter(0), cached_side(cache, session, image, shape(session, image.id)).paths))
        return keep_list(image_paths(session, image, wanted))
    cached = wanted in (FileFilter(), FileFilter(types=KEEP))
    get = (lambda kind, compute: cache.get((kind, image.id, wanted), stamp, compute)) if cached \
        else (lambda _kind, compute: compute())
    rows = get("rows", lambda: image_files(session, image, wanted))
    if format is not Format.json:
        return file_list_response(rows, format, details=True)
    # 21 MB for 100,000 files, kept as each row's JSON: a change re-encodes only the rows it changed.
    last = cache.last(("json", image.id, wanted)) if cached else None
    files = get("json", lambda: encoded_rows(rows, last if isinstance(last, EncodedRows) else None))
    # Assembled from encoded parts: FastAPI would otherwise walk every row through jsonable_encoder.
    body = b'{"image":%s,"files":[%s],"total":%d}' % (header(), files.json(), len(rows))
    return Response(body, media_type="application/json")
