"""Recent large reports, kept while the data behind them is unchanged.

A merged report of 100,000 files costs a read of them all, yet CI jobs and people ask for the same
keep-list again and again. Each entry is stored with the fingerprint of its images' merged rows; every
request reads the fingerprint again (a sum over one row per node in ``image_revisions``) and recomputes
the report only when it moved. Every ingest transaction that writes an image's files raises one of
those rows. What depends only on which paths were used, and as what (keep-lists, diffs), is kept against
the image's ``shape`` instead, which a new container using known files leaves as it is. Each replica
has its own cache; all of them read the same stamps, so none serves stale data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from snoop.collector.storage.models import Image, ImageFileCount, ImageRevision, Inventory

T = TypeVar("T")


def _sighting(session: Session, image_id: int, *more: Any) -> tuple:
    """The image's first sighting (which tells a new image from a removed one whose id SQLite gave again),
    when its inventory completed (which gives its files sizes and packages), and ``more``, in one read."""
    row = session.execute(select(Image.first_seen_ns, Inventory.completed_ns, *more)
                          .outerjoin(Inventory, Inventory.image_id == Image.id).where(Image.id == image_id)).first()
    return tuple(row) if row is not None else (None,) * (2 + len(more))


def fingerprint(session: Session, image_id: int) -> tuple:
    """Moves with every change to the image's merged rows, and when its inventory completes."""
    return _sighting(session, image_id, select(func.sum(ImageRevision.revision))
                     .where(ImageRevision.image_id == image_id).scalar_subquery())


def shape(session: Session, image_id: int) -> tuple:
    """Moves when the image's used paths or their types change, not when more containers use the same files
    (most changes, once an image's files are known): what keep-lists and diffs are kept against. Exact:
    merged rows are only added or retyped upwards (and removed with their image), and either changes the
    counts per type (an added row raises their sum; a retyped one, the sum of its types)."""
    counts = session.execute(select(ImageFileCount.file_type, ImageFileCount.files)
                             .where(ImageFileCount.image_id == image_id).order_by(ImageFileCount.file_type)).all()
    return (*_sighting(session, image_id), tuple(map(tuple, counts)))


class ReportCache:
    def __init__(self, max_entries: int = 8) -> None:  # a 100,000-file report holds ~20 MB
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[tuple, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}  # one computation per key at a time
        self.hits = 0
        self.misses = 0

    def _cached(self, key: Hashable, stamp: tuple) -> tuple[bool, object]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == stamp:
                self._entries.move_to_end(key)
                self.hits += 1
                return True, entry[1]
            return False, None

    def last(self, key: Hashable) -> object | None:
        """What ``key`` held last, whatever its stamp: what a recomputation may reuse of it."""
        with self._lock:
            entry = self._entries.get(key)
            return entry[1] if entry is not None else None

    def get(self, key: Hashable, stamp: tuple, compute: Callable[[], T]) -> T:
        """The cached value, or ``compute``'s. Concurrent misses of one key compute it once: the others
        wait for it, so 24 requests for one big report hold one copy, not 24."""
        hit, value = self._cached(key, stamp)
        if hit:
            return value  # type: ignore[return-value]
        with self._lock:
            flight = self._computing.setdefault(key, threading.Lock())
        with flight:
            hit, value = self._cached(key, stamp)
            if hit:
                return value  # type: ignore[return-value]
            value = compute()
            with self._lock:
                self.misses += 1
                self._entries[key] = (stamp, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
                self._computing.pop(key, None)
        return value
