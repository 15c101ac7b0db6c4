"""The host's mount namespace and root, to tell a container's processes from the runtime's.

A runtime helper lives in the host's mount namespace until it pivots into the container's root; a
container's process never does. ``/proc/<pid>/ns/mnt`` names a namespace by its inode.
"""

from __future__ import annotations

import os


class MountNamespaces:
    def __init__(self, *, proc_root: str = "/proc") -> None:
        self._proc = proc_root
        # With hostPID (the DaemonSet's) pid 1 is the node's init. Where pid 1 cannot be read (a sandbox
        # whose init holds more privileges than root), the agent itself runs in the host's namespace.
        reference = "1" if self.of("1") is not None else "self"
        self.host = self.of(reference)
        host_root = os.stat(f"{proc_root}/{reference}/root")
        self.host_root = (host_root.st_dev, host_root.st_ino)

    def of(self, pid: int | str) -> int | None:
        try:
            return os.stat(f"{self._proc}/{pid}/ns/mnt").st_ino
        except OSError:
            return None

    def contained(self, pid: int) -> bool:
        """True when ``pid`` lives (still) and is not in the host's mount namespace."""
        ns = self.of(pid)
        return ns is not None and ns != self.host

    def contained_pids(self) -> list[int]:
        """Every live process outside the host's mount namespace."""
        return [int(name) for name in os.listdir(self._proc) if name.isdigit() and self.contained(int(name))]
