"""Group commit for a single writer: batches that wait for the write lock are committed together.

Whoever takes the lock writes every batch waiting by then in one transaction, so the batches of many
agents pay one fsync instead of one each (SQLite's commit with ``synchronous=FULL`` costs about as much
as writing 1,000 files). Each batch still gets its own answer, and an ack still means committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Waiting(Generic[T]):
    work: T
    result: int | BaseException | None = None


class CommitGroups(Generic[T]):
    def __init__(self, lock: threading.Lock, write: Callable[[list[T]], list[int]],
                 write_alone: Callable[[T], int]) -> None:
        """``write`` commits a group in one transaction and returns each one's count; when it raises, the
        group is written one by one (``write_alone``), so a batch the database refuses fails alone."""
        self._lock = lock
        self._write = write
        self._write_alone = write_alone
        self._waiting: list[_Waiting[T]] = []
        self._guard = threading.Lock()

    @property
    def waiting(self) -> int:
        """Batches waiting for the lock now."""
        with self._guard:
            return len(self._waiting)

    def commit(self, work: T) -> int:
        mine = _Waiting(work)
        with self._guard:
            self._waiting.append(mine)
        with self._lock:
            if mine.result is None:  # no earlier holder took it along: take everything waiting
                with self._guard:
                    group, self._waiting = self._waiting, []
                self._commit(group)
        if isinstance(mine.result, BaseException):
            raise mine.result
        assert mine.result is not None
        return mine.result

    def _commit(self, group: list[_Waiting[T]]) -> None:
        if len(group) > 1:
            try:
                for waiting, result in zip(group, self._write([w.work for w in group]), strict=True):
                    waiting.result = result
                return
            except Exception:  # noqa: BLE001 - whose it was is found by writing each alone
                pass
        for waiting in group:
            try:
                waiting.result = self._write_alone(waiting.work)
            except Exception as exc:  # noqa: BLE001 - handed to the batch's own caller
                waiting.result = exc
