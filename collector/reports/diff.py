"""What changed in file usage between two images. The database reads each image's keep-list in path
order from one covering index (``ix_image_files_order``); the two are compared by path id. Probing the
other image per row in SQL (NOT EXISTS / EXCEPT) was measured at twice the time on both databases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

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
    in_base, in_head = set(map(itemgetter(1), before)), set(map(itemgetter(1), after))
    return Diff(
        added=_paths_where(after, (in_head - in_base).__contains__),
        removed=_paths_where(before, (in_base - in_head).__contains__),
        common=_paths_where(after, in_base.__contains__) if with_common else [],
    )


def _paths_where(rows: list[tuple[bytes, int]], test: Callable[[int], bool]) -> list[bytes]:
    """The paths of ``rows`` whose id passes ``test``, in their order: loops in C, none per row in Python
    (comparing two 100,000-path sides: ~30 ms, ~45 as comprehensions)."""
    return list(compress(map(itemgetter(0), rows), map(test, map(itemgetter(1), rows))))


def diff_images(session: Session, base: Image, head: Image, *, with_common: bool = True) -> Diff:
    return compare(kept_paths(session, base), kept_paths(session, head), with_common=with_common)
