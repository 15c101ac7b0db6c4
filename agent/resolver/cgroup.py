"""cgroup ID (what BPF sees) -> cgroup path -> container ID (what the CRI knows).

cgroup v2 IDs are the inode numbers of the cgroup directories. The path comes from the kernel when the
cgroup is made (the BPF program's cgroup_mkdir event), else from the event's process (``/proc/<pid>/cgroup``)
while it lives, else from a walk of the cgroup2 mount.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict

# containerd/cgroupfs: .../<id>; systemd drivers: .../cri-containerd-<id>.scope, crio-<id>.scope,
# docker-<id>.scope; conmon of CRI-O: crio-conmon-<id>.scope is the runtime's, not the container's.
_CONTAINER_ID = re.compile(r"^(?:cri-containerd-|crio-|docker-|libpod-)?([0-9a-f]{64})(?:\.scope)?$")


def cgroup2_mount(mounts_file: str = "/proc/self/mounts") -> str:
    """Where cgroup2 is mounted: ``/sys/fs/cgroup`` on most nodes, ``…/unified`` on hybrid hosts."""
    with open(mounts_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return fields[1]
    raise RuntimeError("no cgroup2 mount in /proc/self/mounts: snoop needs the unified cgroup hierarchy")


def container_id_from_path(cgroup_path: str) -> str | None:
    """The 64-hex container ID a runtime put in the last component of a cgroup path, if any."""
    match = _CONTAINER_ID.match(cgroup_path.rstrip("/").rsplit("/", 1)[-1])
    return match.group(1) if match else None


class CgroupPaths:
    """Finds the cgroup path of a cgroup ID; the path is relative to the cgroup2 mount."""

    def __init__(self, *, mount: str, proc_root: str = "/proc", capacity: int = 65536) -> None:
        self._mount = mount.rstrip("/")
        self._proc = proc_root
        self._capacity = capacity  # every cgroup the node makes is noted: the oldest are let go
        self._by_id: OrderedDict[int, str] = OrderedDict()

    def note(self, cgroup_id: int, path: str) -> None:
        """Remembers a path the kernel gave for a new cgroup; it outlives the cgroup, for its late events."""
        self._by_id[cgroup_id] = path
        while len(self._by_id) > self._capacity:
            self._by_id.popitem(last=False)

    def cgroup_id(self, path: str) -> int:
        return os.stat(self._mount + path).st_ino

    def _from_pid(self, pid: int) -> str | None:
        try:
            with open(f"{self._proc}/{pid}/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        path = line[3:].strip()
                        # "/../.." means outside the reader's cgroup namespace: not usable as a path
                        return None if "/.." in path else path
        except OSError:
            return None
        return None

    def _walk(self) -> None:
        for dirpath, _dirs, _files in os.walk(self._mount):
            try:
                self.note(os.stat(dirpath).st_ino, dirpath[len(self._mount) :] or "/")
            except OSError:
                continue

    def learn(self, cgroup_id: int, pid: int) -> str | None:
        """The path as ``pid`` (if it lives and is still in the cgroup) shows it; remembered."""
        known = self._by_id.get(cgroup_id)
        if known is not None:
            return known
        path = self._from_pid(pid)
        try:
            if path is not None and self.cgroup_id(path) == cgroup_id:
                self.note(cgroup_id, path)
                return path
        except OSError:
            pass
        return None

    def path_of(self, cgroup_id: int, pid: int) -> str | None:
        """The path, or None when the cgroup is gone and was never seen."""
        path = self.learn(cgroup_id, pid)
        if path is None:
            self._walk()
            path = self._by_id.get(cgroup_id)
        return path

    def pids(self, cgroup_id: int) -> list[int]:
        """The processes in a cgroup whose path is known; none when it is gone."""
        path = self._by_id.get(cgroup_id)
        if path is None:
            return []
        try:
            with open(f"{self._mount}{path}/cgroup.procs") as f:
                return [int(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def exists(self, cgroup_id: int) -> bool:
        """False once a known cgroup's directory is gone (its container was removed)."""
        path = self._by_id.get(cgroup_id)
        if path is None:
            return True  # never resolved: not ours to judge
        try:
            return self.cgroup_id(path) == cgroup_id
        except OSError:
            return False

    def own_cgroup_id(self) -> int | None:
        """The agent's own cgroup, or None when a private cgroup namespace hides it (paths in
        /proc/*/cgroup are then relative to that namespace)."""
        try:
            if os.readlink("/proc/self/ns/cgroup") != os.readlink(f"{self._proc}/1/ns/cgroup"):
                return None
        except OSError:
            return None
        path = self._from_pid(os.getpid())
        try:
            return self.cgroup_id(path) if path is not None else None
        except OSError:
            return None
