"""The main loop's timing: periodic jobs, each at its own interval on a clock a test can turn, and what it lets
go of only when found gone twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass
class _Job:
    interval_s: float
    run: Callable[[], None]
    last: float


class Schedule:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._jobs: list[_Job] = []

    def every(self, interval_s: float, job: Callable[[], None]) -> None:
        """``job`` runs one interval from now, then each interval; jobs due together run in the order added."""
        self._jobs.append(_Job(interval_s, job, self._clock()))

    def run_due(self) -> None:
        """Runs what is due. A job late by several intervals runs once: its next turn counts from now."""
        now = self._clock()
        for job in self._jobs:
            if now - job.last >= job.interval_s:
                job.run()
                job.last = now


class GoneTwice(Generic[K]):
    """What the main loop lets go of (a container, a pinned root) only once found gone at two looks in a row: a
    container that ran for a millisecond is gone long before the loop has handled its last events."""

    def __init__(self) -> None:
        self._once: set[K] = set()

    def confirm(self, gone: set[K]) -> set[K]:
        """Of ``gone`` (found gone at this look), those found gone at the look before too."""
        twice = gone & self._once
        self._once = gone - twice
        return twice
