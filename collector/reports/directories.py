"""A directory of an image as its treemap draws it, two levels deep, in bounded time and memory.

Read from the sums kept per directory when the inventory completed (``inventory_directories``), the
largest files directly in the directory, and the used files below it: never the whole inventory, so a
page of a 1,000,000-file image costs what its used files and the directories shown cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from snoop.collector.reports.filters import fetch_all, with_prefix
from snoop.collector.storage.models import Image, ImageFile, InventoryDirectory, InventoryFile, Path
from snoop.collector.storage.write import path_digest


@dataclass(frozen=True)
class Directory:
    path_id: int
    path: bytes
    bytes: int        # below it, at any depth
    files: int
    own_bytes: int    # of the files directly in it
    own_files: int


@dataclass(frozen=True)
class Subtree:
    shown: Directory                              # the directory asked for, or its lone subdirectory
    children: list[Directory]                     # directories directly in it
    grandchildren: dict[bytes, list[Directory]]   # child's path -> the directories directly in that child
    largest_files: list[tuple[bytes, int]]        # (path, size): the largest files directly in it
    used: list[tuple[bytes, int]]                 # (path, size) of every used inventory file below it


def _directories(session: Session, image: Image, *where) -> list[Directory]:  # noqa: ANN002 - SQL clauses
    d = InventoryDirectory
    rows = fetch_all(session, select(d.path_id, Path.path, d.bytes, d.files, d.own_bytes, d.own_files)
                     .join(Path, Path.id == d.path_id).where(d.image_id == image.id, *where))
    return [Directory(*r) for r in rows]


def subtree(session: Session, image: Image, directory: bytes, largest: int) -> Subtree | None:
    """``directory`` (or, while it holds one directory and no file, that directory, and so on down) with
    two levels below it; None when the image's inventory has no such directory."""
    found = _directories(session, image, Path.digest == path_digest(directory))
    if not found:
        return None
    shown = found[0]
    children = _directories(session, image, InventoryDirectory.parent_id == shown.path_id)
    while shown.own_files == 0 and len(children) == 1:
        shown = children[0]
        children = _directories(session, image, InventoryDirectory.parent_id == shown.path_id)
    grandchildren: dict[bytes, list[Directory]] = {c.path: [] for c in children}
    child = aliased(InventoryDirectory)
    for g in _directories(session, image, InventoryDirectory.parent_id == child.path_id,
                          child.image_id == image.id, child.parent_id == shown.path_id):
        grandchildren[g.path[: g.path.rfind(b"/")]].append(g)
    largest_files = fetch_all(session, select(Path.path, InventoryFile.size)
                              .join(Path, Path.id == InventoryFile.path_id)
                              .where(InventoryFile.image_id == image.id, InventoryFile.directory_id == shown.path_id)
                              .order_by(InventoryFile.size.desc(), Path.path).limit(largest))
    used = fetch_all(session, with_prefix(
        select(Path.path, InventoryFile.size).select_from(ImageFile)
        .join(InventoryFile, and_(InventoryFile.image_id == ImageFile.image_id,
                                  InventoryFile.path_id == ImageFile.path_id))
        .join(Path, Path.id == ImageFile.path_id)
        .where(ImageFile.image_id == image.id), shown.path.rstrip(b"/") + b"/"))
    return Subtree(shown, children, grandchildren, largest_files, used)
