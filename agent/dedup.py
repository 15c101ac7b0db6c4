"""Per-container sets of files: what each container touched, and what the collector has not seen yet.

The kernel already drops repeats while its LRU remembers them; this is the exact, bounded set behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snoop.agent.events import ContainerRef, FileRecord, FileType


@dataclass
class ContainerFiles:
    ref: ContainerRef
    files: dict[bytes, FileRecord] = field(default_factory=dict)
    unsent: dict[bytes, FileRecord] = field(default_factory=dict)
    total_events: int = 0


class FileSets:
    def __init__(self, *, max_unique_files: int) -> None:
        self._max = max_unique_files  # per container; 0 = unbounded
        self._by_container: dict[str, ContainerFiles] = {}
        self.overflowed = 0  # files not recorded because a container hit the bound

    def record(self, ref: ContainerRef, path: bytes, kind: int, ts_ns: int, type_: FileType) -> bool:
        """Adds one access; True when it is news for the collector (a new path, kind or type)."""
        entry = self._by_container.get(ref.container_id)
        if entry is None:
            entry = self._by_container[ref.container_id] = ContainerFiles(ref)
        record = entry.files.get(path)
        if record is None:
            if self._max and len(entry.files) >= self._max:
                self.overflowed += 1
                return False
            record = entry.files[path] = FileRecord(kinds=kind, first_seen_ns=ts_ns, last_seen_ns=ts_ns,
                                                    type=type_)
        elif record.kinds | kind == record.kinds and type_ <= record.type:
            record.last_seen_ns = max(record.last_seen_ns, ts_ns)
            return False
        else:
            record.kinds |= kind
            record.type = max(record.type, type_)
            record.last_seen_ns = max(record.last_seen_ns, ts_ns)
        entry.unsent[path] = record
        return True

    def set_total_events(self, container_id: str, total: int) -> None:
        """The kernel's count only grows; once its cgroup is gone the kernel forgets it (0), the agent not."""
        entry = self._by_container.get(container_id)
        if entry is not None:
            entry.total_events = max(entry.total_events, total)

    def drain(self) -> list[tuple[ContainerRef, dict[bytes, FileRecord], int]]:
        """What changed since the last drain, per container; the sets forget it was unsent."""
        out = []
        for entry in self._by_container.values():
            if entry.unsent:
                out.append((entry.ref, entry.unsent, entry.total_events))
                entry.unsent = {}
        return out

    def forget(self, container_id: str) -> None:
        """Drops a container that is gone and whose files were all handed on."""
        self._by_container.pop(container_id, None)

    def containers(self) -> list[ContainerFiles]:
        return list(self._by_container.values())

    def unique_files(self) -> int:
        return sum(len(e.files) for e in self._by_container.values())
