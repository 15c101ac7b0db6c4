"""What changed in file usage between two images: set algebra in SQL (EXCEPT, INTERSECT), not Python."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import except_, intersect, select
from sqlalchemy.orm import Session

from collector.reports.query import fetch_all, sorted_rows
from collector.storage.models import Image, ImageFile, Path
from common.file_types import KEEP


@dataclass(frozen=True)
class Diff:
    added: list[bytes]    # used by head, not by base
    removed: list[bytes]  # used by base, not by head
    common: list[bytes]


def _paths_of(image: Image):  # noqa: ANN202 - a SQLAlchemy select
    """What a keep-list of the image would list: directories and runtime mounts are no change to it."""
    return select(ImageFile.path_id).where(ImageFile.image_id == image.id, ImageFile.file_type.in_(KEEP))


def _resolve(session: Session, path_ids) -> list[bytes]:  # noqa: ANN001
    ids = path_ids.subquery()
    q = select(Path.path).join(ids, ids.c.path_id == Path.id)
    return [p for (p,) in sorted_rows(fetch_all(session, q))]


def diff_images(session: Session, base: Image, head: Image, *, with_common: bool = True) -> Diff:
    """``with_common=False`` skips the largest list when the caller shows only the changes."""
    return Diff(
        added=_resolve(session, except_(_paths_of(head), _paths_of(base))),
        removed=_resolve(session, except_(_paths_of(base), _paths_of(head))),
        common=_resolve(session, intersect(_paths_of(base), _paths_of(head))) if with_common else [],
    )
