"""Drains the ring buffer on a thread of its own.

Handling an event can be slow (a CRI call for a new container, a walk of the cgroup tree); reading one
must not wait for that. The reader hands each record to a quick ``observe`` step (what cannot wait: the
container's root, pinned while its process still lives) and queues it for the main loop. The queue is
bounded: when the main loop falls behind, the reader blocks, the ring buffer fills, and the kernel
counts what it drops and lets it come again (nothing is lost silently in userspace).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from snoop.agent.events import RawEvent

POLL_MS = 100


class RingReader:
    def __init__(self, poll: Callable[[int], None], *, capacity: int = 65536) -> None:
        self._poll = poll
        self._queue: queue.Queue[RawEvent] = queue.Queue(capacity)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ring-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, ev: RawEvent) -> None:
        """From the ring buffer's callback, on the reader thread: waits while the queue is full."""
        self._queue.put(ev)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll(POLL_MS)
        self._poll(0)

    def take(self, timeout_s: float, limit: int = 10_000) -> list[RawEvent]:
        """What was read, waiting up to ``timeout_s`` for the first event."""
        try:
            events = [self._queue.get(timeout=timeout_s)] if timeout_s > 0 else [self._queue.get_nowait()]
        except queue.Empty:
            return []
        while len(events) < limit:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def stop(self, handle: Callable[[list[RawEvent]], None]) -> None:
        """Reads what the kernel still holds, handing everything to ``handle`` until the reader ends."""
        self._stop.set()
        while self._thread.is_alive():
            handle(self.take(0.05))
        while events := self.take(0):
            handle(events)
