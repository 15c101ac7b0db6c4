"""A pinned handle on each container's root filesystem.

Symlinks must be resolved inside the container's root, which the agent reaches through
``/proc/<pid>/root``. A process that execs and exits within a millisecond is gone by the time its event
is read, and so may be the whole container. An O_PATH descriptor opened at the container's first event
keeps its root reachable for as long as the agent needs it.

Only a process that is the container's own may pin it: one outside the host's mount namespace whose
root is not the host's. A runtime helper before ``pivot_root`` (or a recycled pid) is neither; then
another process of the same cgroup is tried.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable

from agent.namespaces import MountNamespaces


class ContainerRoots:
    def __init__(
        self,
        *,
        namespaces: MountNamespaces,
        members: Callable[[int], list[int]],
        proc_root: str = "/proc",
        capacity: int = 4096,
    ) -> None:
        self._ns = namespaces
        self._members = members  # cgroup id -> pids in it
        self._proc = proc_root
        self._capacity = capacity
        self._fds: OrderedDict[int, int] = OrderedDict()
        self.refused = 0  # candidates that were in the host's mount namespace or root

    def fd(self, cgroup_id: int, pid: int) -> int | None:
        """The root of ``cgroup_id``'s container, pinned through ``pid`` or another of its processes."""
        fd = self._fds.get(cgroup_id)
        if fd is not None:
            self._fds.move_to_end(cgroup_id)
            return fd
        fd = self._pin(pid)
        if fd is None:
            fd = next((f for f in map(self._pin, self._members(cgroup_id)) if f is not None), None)
        if fd is None:
            return None
        self._fds[cgroup_id] = fd
        while len(self._fds) > self._capacity:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def _pin(self, pid: int) -> int | None:
        ns = self._ns.of(pid)
        if ns is None:  # gone
            return None
        if ns == self._ns.host:
            self.refused += 1
            return None
        try:
            fd = os.open(f"{self._proc}/{pid}/root", os.O_PATH | os.O_DIRECTORY)
        except OSError:
            return None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == self._ns.host_root:
            os.close(fd)
            self.refused += 1
            return None
        return fd

    def release(self, alive: Callable[[int], bool]) -> None:
        """Unpins the roots of cgroups that no longer exist."""
        for cgroup_id in [c for c in self._fds if not alive(c)]:
            os.close(self._fds.pop(cgroup_id))

    def close(self) -> None:
        self.release(lambda _: False)
