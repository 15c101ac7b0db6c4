"""Forgetting what is old, so that a year of a big cluster fits: container instances not seen for
``retain_instances`` go with their file rows, while the per-image merge keeps what they contributed;
images not running for ``retain_images`` go with everything of theirs (merge, inventory, scans).

Deletes run in small transactions (``BATCH`` instances or one image at a time), so ingest waits at most
for one of them. On PostgreSQL instances go with their day's partition (days.py), one replica at a time
(an advisory lock); SQLite has one writer, and its ingest lock is taken per transaction.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.days import day_table, drop_day, expire_day, filed_days, move_running
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.models import (
    ContainerInstance,
    Image,
    ImageFile,
    ImageNodePath,
    ImageReference,
    InstanceFile,
    Inventory,
    InventoryFile,
    Package,
    PackageFile,
    VulnerabilityScan,
    day_of,
)
from snoop.collector.storage.spread import forget
from snoop.collector.storage.write import bump_revisions

log = logging.getLogger(__name__)
BATCH = 50  # instances per transaction: about 50,000 file rows at 1,000 files each
RETENTION_LOCK = 0x736E6F6F71  # one replica at a time removes expired rows


@dataclass
class Removed:
    instances: int = 0
    instance_files: int = 0
    images: int = 0


def _expired_instances(session: Session, before_ns: int) -> list[int]:
    return list(session.scalars(select(ContainerInstance.id).where(ContainerInstance.last_seen_ns < before_ns)
                                .order_by(ContainerInstance.id).limit(BATCH)))


def remove_instances(session: Session, ids: list[int]) -> int:
    """The instances and their file rows; ``image_files`` keeps what they added up to (containers, kinds,
    times), but what is counted over kept instances changes (``instances_gone``). Returns file rows."""
    gone = [(image_id, node) for image_id, node in session.execute(
        select(ContainerInstance.image_id, ContainerInstance.node).where(ContainerInstance.id.in_(ids)))]
    result: CursorResult = session.execute(  # type: ignore[assignment]
        delete(InstanceFile).where(InstanceFile.instance_id.in_(ids)))
    files = result.rowcount or 0
    session.execute(delete(ContainerInstance).where(ContainerInstance.id.in_(ids)))
    instances_gone(session, gone)
    return files


def instances_gone(session: Session, gone: list[tuple[int, str]]) -> None:
    """What is counted over instances follows the (image, node)s they ran on: their revisions move (first:
    that row is what ingest on the node takes turns on), and a node left with no instance of the image
    counts no more for its paths."""
    bump_revisions(session, gone)
    forget(session, gone)


def remove_image(session: Session, image_id: int) -> None:
    """The image and all that is only its; the tables without foreign keys explicitly (its nodes per path
    first: nothing is left to count out of merged rows about to go)."""
    session.execute(delete(ImageNodePath).where(ImageNodePath.image_id == image_id))
    instances = list(session.scalars(select(ContainerInstance.id).where(ContainerInstance.image_id == image_id)))
    if instances:
        remove_instances(session, instances)
    for table in (ImageFile, InventoryFile, PackageFile):
        session.execute(delete(table).where(table.image_id == image_id))
    for owned in (Package, Inventory, VulnerabilityScan, ImageReference):
        session.execute(delete(owned).where(owned.image_id == image_id))
    session.execute(delete(Image).where(Image.id == image_id))


class Retention:
    def __init__(self, sessions: sessionmaker[Session], *, retain_instances_s: float, retain_images_s: float,
                 write_lock: threading.Lock | contextlib.nullcontext,
                 on_removed: Callable[[Removed], None] = lambda _r: None) -> None:
        self._sessions = sessions
        self._instances_s = retain_instances_s
        self._images_s = retain_images_s
        self._lock = write_lock
        self._on_removed = on_removed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now_ns: int | None = None) -> Removed:
        """One pass: every expired instance and image, a small transaction at a time."""
        now_ns = now_ns if now_ns is not None else time.time_ns()
        removed = Removed()
        with self._sessions() as guard:
            dialect = dialect_of(guard)
            if not dialect.take_turn(guard.connection(), RETENTION_LOCK):
                return removed  # another replica is at it
            try:
                if self._instances_s > 0:
                    before = now_ns - int(self._instances_s * 1e9)
                    if dialect.files_by_day:
                        self._close_days(before, removed)
                    else:
                        self._remove_instances(before, removed)
                if self._images_s > 0:
                    self._remove_images(now_ns - int(self._images_s * 1e9), removed)
            finally:
                dialect.end_turn(guard.connection(), RETENTION_LOCK)
        if removed.instances or removed.images:
            log.info("retention removed %d container instances (%d file rows) and %d images", removed.instances,
                     removed.instance_files, removed.images)
        self._on_removed(removed)
        return removed

    def _remove_instances(self, before_ns: int, removed: Removed) -> None:
        while not self._stop.is_set():
            with self._lock, self._sessions.begin() as session:
                ids = _expired_instances(session, before_ns)
                if not ids:
                    return
                removed.instance_files += remove_instances(session, ids)
                removed.instances += len(ids)

    def _close_days(self, before_ns: int, removed: Removed) -> None:
        """Instances go with their day, once all of it is older than ``before_ns``: up to a day later than
        one by one, for a drop of the day's partition instead of a delete per row."""
        with self._sessions() as session:
            days = [d for d in filed_days(session.connection()) if d < day_of(before_ns)]
        for day in days:
            moved = [0, 0]  # instances, rows
            while not self._stop.is_set():
                with self._sessions.begin() as session:
                    instances, rows = move_running(session.connection(), day, before_ns, BATCH)
                if not instances:
                    break
                moved = [moved[0] + instances, moved[1] + rows]
            if self._stop.is_set():
                return
            with self._sessions() as session:
                try:
                    gone = expire_day(session.connection(), day, before_ns)
                    if gone is None:
                        session.rollback()
                        continue
                    # Before the drop: ingest on these nodes waits for the revisions' rows, and it must not
                    # hold them while it waits on the drop's lock of the table (a deadlock).
                    instances_gone(session, gone)
                    rows = drop_day(session.connection(), day)
                except OperationalError as e:  # a lock waited too long: the next pass tries again
                    log.warning("retention could not drop the files of day %s yet: %s", day_table(day), e.orig)
                    continue
                session.commit()
            removed.instances += len(gone)
            removed.instance_files += rows
            log.info("retention dropped %s (%d instances, %d rows); %d running instances moved on (%d rows)",
                     day_table(day), len(gone), rows, *moved)

    def _remove_images(self, before_ns: int, removed: Removed) -> None:
        with self._sessions() as session:
            expired = list(session.scalars(select(Image.id).where(Image.last_seen_ns < before_ns)))
        for image_id in expired:
            if self._stop.is_set():
                return
            with self._lock, self._sessions.begin() as session:
                # Under the row's lock, which ingest takes to mark it seen: an image that ran again since
                # the list was read stays, with what its new containers just sent.
                still = session.scalar(select(Image.id).where(Image.id == image_id, Image.last_seen_ns < before_ns)
                                       .with_for_update())
                if still is not None:
                    remove_image(session, image_id)
                    removed.images += 1

    def start(self, interval_s: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.run_once()
                except Exception:  # the database may be down; the next pass tries again
                    log.exception("retention pass failed")

        self._thread = threading.Thread(target=loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
