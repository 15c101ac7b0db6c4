"""Batches waiting for the collector's acknowledgement, one file each, so that a killed agent (kill -9,
the OOM killer, a node reboot after ``sync``) loses none of them: the next agent sends them first.

Files are written whole (a temporary name, then ``rename``): a batch is on disk entirely or not at all.
The page cache outlives the process, so a write survives kill -9 without an fsync. One agent owns the
directory at a time (``flock``); a second one is refused rather than sharing it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from google.protobuf.message import DecodeError

from snoop.v1 import snoop_pb2 as pb

log = logging.getLogger(__name__)
RUNNING = "running"  # present while an agent runs; found at start, it says the last one did not stop cleanly


class SpoolError(RuntimeError):
    """The spool directory cannot be used; the message says why."""


class DiskSpool:
    def __init__(self, directory: Path, token: str) -> None:
        self._dir = directory
        self._token = token  # this process's prefix: its files never collide with a predecessor's
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpoolError(f"--spool-dir {directory}: another agent is using it") from None
        except OSError as exc:
            raise SpoolError(f"--spool-dir {directory}: {exc.strerror}") from exc
        marker = directory / RUNNING
        self.unclean_start = marker.exists()
        marker.touch()

    def _path(self, seq: int) -> Path:
        return self._dir / f"{self._token}-{seq:012d}.batch"

    def save(self, seq: int, batch: pb.Batch) -> None:
        tmp = self._dir / f".{self._token}-{seq}.tmp"
        tmp.write_bytes(batch.SerializeToString())
        os.rename(tmp, self._path(seq))

    def delete(self, seq: int) -> None:
        self._path(seq).unlink(missing_ok=True)

    def leftovers(self) -> list[tuple[Path, pb.Batch]]:
        """Batches a previous agent left unacknowledged, oldest first; unreadable ones are logged, skipped."""
        found = []
        for path in sorted(self._dir.glob("*.batch"), key=lambda p: p.stat().st_mtime_ns):
            if path.name.startswith(f"{self._token}-"):
                continue
            try:
                found.append((path, pb.Batch.FromString(path.read_bytes())))
            except (OSError, DecodeError) as exc:
                log.error("spooled batch %s unreadable, left in place: %s", path, exc)
        return found

    def close(self) -> None:
        """A clean stop: the next agent finds no ``running`` marker."""
        (self._dir / RUNNING).unlink(missing_ok=True)
        os.close(self._lock)
