"""What changed in file usage between two images. The database reads each image's keep-list in path
order from one covering index (``ix_image_files_order``); the two are compared by path id. Probing the
other image per row in SQL (NOT EXISTS / EXCEPT) was measured at twice the time on both databases."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from snoop.collector.reports.filters import fetch_all
from snoop.collector.reports.images import full_path, in_key_order, path_order
from snoop.collector.storage.models import Image, ImageFile
from snoop.common.file_types import KEEP


@dataclass(frozen=True)
class Diff:
    added: list[bytes]    # used by head, not by base
    removed: list[bytes]  # used by base, not by head
    common: list[bytes]


def kept_paths(session: Session, image: Image) -> list[tuple[bytes, int]]:
    """(path, path id) of what a keep-list of the image lists, in path order: directories and runtime
    mounts are no change to it."""
    q = select(full_path(), ImageFile.path_id).where(ImageFile.image_id == image.id, ImageFile.file_type.in_(KEEP))
    return path_order(fetch_all(session, in_key_order(q)))


def compare(before: list[tuple[bytes, int]], after: list[tuple[bytes, int]], *, with_common: bool = True) -> Diff:
    """Two images' ``kept_paths``; ``with_common=False`` leaves out the largest list when the caller shows
    only the changes."""
    in_base = {path_id for _, path_id in before}
    in_head = {path_id for _, path_id in after}
    return Diff(
        added=[p for p, path_id in after if path_id not in in_base],
        removed=[p for p, path_id in before if path_id not in in_head],
        common=[p for p, path_id in after if path_id in in_base] if with_common else [],
    )


def diff_images(session: Session, base: Image, head: Image, *, with_common: bool = True) -> Diff:
    return compare(kept_paths(session, base), kept_paths(session, head), with_common=with_common)
