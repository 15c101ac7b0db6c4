"""/api/v1/diff: how file usage changed between two image versions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from snoop.collector.api import schemas
from snoop.collector.api.deps import SessionDep, image_or_404
from snoop.collector.api.render import Format, csv_response
from snoop.collector.encoding import SafeJSONResponse, decoded_paths
from snoop.collector.reports.cache import ReportCache, shape
from snoop.collector.reports.contents import image_bytes, used_package_names
from snoop.collector.reports.diff import Diff, cached_side, compare
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.models import Image
from snoop.collector.vulns.service import in_use_ids, scan_stamp

router = APIRouter(tags=["diff"])


@router.get("/diff", response_model=None, responses={200: {"model": schemas.Diff}})
def diff(base: str, head: str, session: SessionDep, request: Request, format: Format = Format.json) -> Response:  # noqa: A002
    """``added``: used by head only; ``removed``: by base only. A and B are digests or references (a
    reference means the digest most recently seen under it). ``text`` gives ``+ path``/``- path`` lines."""
    images: dict[str, Image] = {}
    for side, key in (("base", base), ("head", head)):
        images[side] = image_or_404(session, key, side)
    old, new = images["base"], images["head"]
    with_common = format is not Format.text
    cache: ReportCache = request.app.state.report_cache
    shapes = {image.id: shape(session, image.id) for image in (old, new)}

    def kept(image: Image, reader: Session) -> list[tuple[bytes, int]]:
        """Each side kept apart (with the image's keep-list): a change to one image brings that one up to date."""
        return cached_side(cache, reader, image, shapes[image.id]).paths

    def both() -> Diff:
        """On PostgreSQL the sides are read at once, base on a connection of its own (×0.65 the time of one
        after the other)."""
        if not dialect_of(session).parallel_reads:
            return compare(kept(old, session), kept(new, session), with_common=with_common)
        with request.app.state.sessions() as other, ThreadPoolExecutor(1) as pool:
            before = pool.submit(kept, old, other)
            after = kept(new, session)
            return compare(before.result(), after, with_common=with_common)

    stamp = (shapes[old.id], shapes[new.id])
    d = cache.get(("diff", old.id, new.id, with_common), stamp, both)
    if format is Format.text:
        lines = [b"+ " + p for p in d.added] + [b"- " + p for p in d.removed]
        return Response(b"".join(line + b"\n" for line in lines), media_type="text/plain")
    if format is Format.csv:
        rows = [[change, p] for change, paths in (("added", d.added), ("removed", d.removed), ("common", d.common))
                for p in decoded_paths(paths)]
        return csv_response(["change", "path"], rows)

    def answer() -> bytes:
        base_packages, head_packages = used_package_names(session, old), used_package_names(session, new)
        sizes = image_bytes(session, [old.id, new.id])
        return SafeJSONResponse.encode({
            "base": old.digest,
            "head": new.digest,
            "added": decoded_paths(d.added),
            "removed": decoded_paths(d.removed),
            "common": decoded_paths(d.common),
            "packages": {
                "added": package_list(head_packages, base_packages),
                "removed": package_list(base_packages, head_packages),
            },
            "bytes": {"base_used": sizes.get(old.id, (None, None))[1],
                      "head_used": sizes.get(new.id, (None, None))[1]},
            "vulnerabilities": vulnerability_changes(session, old, new),
        })

    # The whole answer is kept while both images' data and scans are unchanged: 6 MB of JSON to encode.
    scans = (scan_stamp(session, old), scan_stamp(session, new))
    return Response(cache.get(("diff-json", old.id, new.id), (*stamp, scans), answer),
                    media_type="application/json")


def vulnerability_changes(session: Session, base: Image, head: Image) -> dict[str, list[str]] | None:
    """Vulnerabilities in use by head and not base, and the reverse, by each image's latest scan;
    None unless both have one."""
    before, after = in_use_ids(session, base), in_use_ids(session, head)
    if before is None or after is None:
        return None
    return {"now_in_use": sorted(after - before), "no_longer_in_use": sorted(before - after)}


def package_list(these: dict[tuple[str, str], str], but_not: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    """Packages (by type and name: a new version is no new package) used in ``these`` and not ``but_not``."""
    return [{"type": t, "name": n, "version": v} for (t, n), v in sorted(these.items()) if (t, n) not in but_not]
