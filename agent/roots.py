"""A pinned handle on each container's root filesystem.

Symlinks must be resolved inside the container's root, which the agent reaches through
``/proc/<pid>/root``. A process that execs and exits within a millisecond is gone by the time its event
is read, and so may be the whole container. An O_PATH descriptor opened at the container's first event
keeps its root reachable for as long as the agent needs it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable


class ContainerRoots:
    def __init__(self, *, proc_root: str = "/proc", capacity: int = 4096) -> None:
        self._proc = proc_root
        self._capacity = capacity
        self._fds: OrderedDict[int, int] = OrderedDict()

    def fd(self, cgroup_id: int, pid: int) -> int | None:
        """The root of ``cgroup_id``'s container, pinned through ``pid`` on first use."""
        fd = self._fds.get(cgroup_id)
        if fd is not None:
            self._fds.move_to_end(cgroup_id)
            return fd
        try:
            fd = os.open(f"{self._proc}/{pid}/root", os.O_PATH | os.O_DIRECTORY)
        except OSError:
            return None
        self._fds[cgroup_id] = fd
        while len(self._fds) > self._capacity:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def release(self, alive: Callable[[int], bool]) -> None:
        """Unpins the roots of cgroups that no longer exist."""
        for cgroup_id in [c for c in self._fds if not alive(c)]:
            os.close(self._fds.pop(cgroup_id))

    def close(self) -> None:
        self.release(lambda _: False)
