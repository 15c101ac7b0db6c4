"""The closed loop: what a slim image's containers looked for and did not find, that its base holds.

Agents record failed lookups (ENOENT, ENOTDIR) only for the containers of slim images snoop built, as
paths typed ``missing``. A miss counts when the base holds the path, seen through the base's own
symlinks (``/lib/x86_64-linux-gnu/libz.so.1`` and ``/usr/lib/x86_64-linux-gnu/libz.so.1`` are one
file): a probe for an optional file that the base lacks too is no miss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from snoop.collector.reports.contents import inventory_of
from snoop.collector.reports.coverage import coverage
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from snoop.collector.storage.models import Image, ImageFile, InventoryFile, Path, SlimImage
from snoop.collector.storage.write import path_digest
from snoop.common.file_types import MISSING, SYMLINK
from snoop.common.links import follow_links

UNOBSERVED, CLEAN, BROKEN = "unobserved", "clean", "broken"


@dataclass(frozen=True)
class Miss:
    path: bytes          # as the container looked for it
    held: bytes          # where the base holds it (its symlinks followed)
    containers: int
    last_seen_ns: int


class BaseFiles:
    """The base's inventory asked path by path: is it there, and where does a symlink point."""

    def __init__(self, session: Session, base: Image) -> None:
        self._session = session
        self._base = base
        self._cache: dict[bytes, tuple[int, bytes | None] | None] = {}

    def _entry(self, path: bytes) -> tuple[int, bytes | None] | None:
        if path not in self._cache:
            row = self._session.execute(
                select(InventoryFile.file_type, InventoryFile.target)
                .join(Path, and_(Path.id == InventoryFile.path_id, Path.digest == path_digest(path)))
                .where(InventoryFile.image_id == self._base.id)).first()
            self._cache[path] = (row[0], bytes(row[1]) if row[1] is not None else None) if row else None
        return self._cache[path]

    def readlink(self, path: bytes) -> bytes | None:
        entry = self._entry(path)
        return entry[1] if entry is not None and entry[0] == SYMLINK else None

    def holds(self, path: bytes) -> bytes | None:
        """Where the base holds ``path`` (links followed), or None."""
        resolved = follow_links(path, self.readlink)[0]
        return resolved if self._entry(resolved) is not None else None


def base_of(session: Session, slim: Image) -> str | None:
    row = session.get(SlimImage, slim.id)
    return row.base_digest if row is not None else None


def misses(session: Session, slim: Image, base: Image) -> list[Miss]:
    rows = image_files(session, slim, FileFilter(types=(MISSING,)))
    if not rows or inventory_of(session, base) is None:
        return []
    files = BaseFiles(session, base)
    found = []
    for path, containers, _kinds, _first, last, *_ in rows:
        held = files.holds(bytes(path))
        if held is not None:
            found.append(Miss(bytes(path), held, containers, last))
    return found


def verification(session: Session, slim: Image) -> dict[str, Any] | None:
    """The verdict on a slim image; None when the image is no slim image snoop built."""
    base_digest = base_of(session, slim)
    if base_digest is None:
        return None
    base = find_image(session, base_digest)
    last_new = session.scalar(select(ImageFile.last_seen_ns).where(ImageFile.image_id == slim.id)
                              .order_by(ImageFile.last_seen_ns.desc()).limit(1)) or 0
    cov = coverage(session, slim, last_new)
    found = misses(session, slim, base) if base is not None else []
    status = UNOBSERVED if cov["instances"] == 0 else BROKEN if found else CLEAN
    return {"base": base_digest, "base_inventory": base is not None and inventory_of(session, base) is not None,
            "status": status, "coverage": cov,
            "missing": [{"path": os.fsdecode(m.path), "held_at": os.fsdecode(m.held), "containers": m.containers,
                         "last_seen_ns": m.last_seen_ns} for m in found]}


def slims_of(session: Session, base: Image) -> list[Image]:
    return list(session.scalars(select(Image).join(SlimImage, SlimImage.image_id == Image.id)
                                .where(SlimImage.base_digest == base.digest).order_by(Image.last_seen_ns.desc())))


def missing_in_slims(session: Session, base: Image) -> list[bytes]:
    """Every path found missing in the base's slim images, where the base holds it."""
    return sorted({m.held for slim in slims_of(session, base) for m in misses(session, slim, base)})
