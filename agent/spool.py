"""Batches waiting for the collector's acknowledgement, one file each, so that a killed agent (kill -9,
the OOM killer, a node reboot after ``sync``) loses none of them: the next agent sends them first.
Files are written whole (a temporary name, then ``rename``): a batch is on disk entirely or not at all.
The page cache outlives the process, so a write survives kill -9 without an fsync.

Each agent writes in a directory of its own under the spool root, locked (``flock``) while it runs. So two agents
may run on one node at once — a DaemonSet rolling update with ``maxSurge`` starts the new one before the old one
stops, and neither misses a file meanwhile — and an agent adopts a sibling directory once nothing holds its lock:
its predecessor stopped (or was killed) and what it left is sent again.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from google.protobuf.message import DecodeError

from snoop.v1 import snoop_pb2 as pb

log = logging.getLogger(__name__)

RUNNING = "running"  # present while an agent runs; found in an adopted directory, its agent did not stop cleanly


class SpoolError(RuntimeError):
    """The spool directory cannot be used; the message says why."""


@contextmanager
def _locked(directory: Path) -> Iterator[bool]:
    """Holds ``directory``'s lock for the block if nothing else does; yields whether it got it."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


class DiskSpool:
    def __init__(self, root: Path, token: str) -> None:
        self._root = root
        self._dir = root / token  # this process's own: never shared, never colliding with a predecessor's
        self.unclean_start = False  # an adopted directory's agent was killed
        try:
            self._dir.mkdir(parents=True)
            self._lock = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise SpoolError(f"--spool-dir {root}: {exc.strerror}") from exc
        (self._dir / RUNNING).touch()

    def _path(self, seq: int) -> Path:
        return self._dir / f"{seq:012d}.batch"

    def save(self, seq: int, batch: pb.Batch) -> None:
        tmp = self._dir / f".{seq}.tmp"
        tmp.write_bytes(batch.SerializeToString())
        os.rename(tmp, self._path(seq))

    def delete(self, seq: int) -> None:
        self._path(seq).unlink(missing_ok=True)

    def adopt(self) -> Iterator[pb.Batch]:
        """Batches of agents that are gone (their directories unlocked), oldest first; each directory is removed
        once its batches were taken (the caller saves them anew under this agent's name as it takes each).
        Unreadable ones are logged and left in place. Batches an older agent wrote straight into the root are
        taken the same way."""
        for directory in [self._root, *sorted(p for p in self._root.iterdir() if p.is_dir() and p != self._dir)]:
            with _locked(directory) as free:
                if not free:
                    continue
                if (directory / RUNNING).exists():
                    self.unclean_start = True
                yield from self._take(directory)
                (directory / RUNNING).unlink(missing_ok=True)
                if directory != self._root:
                    for tmp in directory.glob(".*.tmp"):  # half-written when its agent was killed: never sent
                        tmp.unlink()
                    with suppress(OSError):  # an unreadable batch stays, and so does its directory
                        directory.rmdir()

    def _take(self, directory: Path) -> Iterator[pb.Batch]:
        for path in sorted(directory.glob("*.batch"), key=lambda p: p.stat().st_mtime_ns):
            try:
                batch = pb.Batch.FromString(path.read_bytes())
            except (OSError, DecodeError) as exc:
                log.error("spooled batch %s unreadable, left in place: %s", path, exc)
                continue
            yield batch
            path.unlink(missing_ok=True)  # saved under this agent's name by now

    def close(self) -> None:
        """A clean stop: the next agent finds no ``running`` marker, and adopts nothing but unacknowledged
        batches."""
        (self._dir / RUNNING).unlink(missing_ok=True)
        os.close(self._lock)
        with suppress(OSError):
            self._dir.rmdir()  # empty unless batches wait for the next agent
