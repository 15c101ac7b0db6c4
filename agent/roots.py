"""A pinned handle on each container's root filesystem, and the mounts the runtime made in it.

Symlinks must be resolved inside the container's root, which the agent reaches through
``/proc/<pid>/root``. A process that execs and exits within a millisecond is gone by the time its event
is read, and so may be the whole container. An O_PATH descriptor opened at the container's first event
keeps its root reachable for as long as the agent needs it.

Only a process that is the container's own may pin it: one outside the host's mount namespace whose
root is not the host's. A runtime helper before ``pivot_root`` (or a recycled pid) is neither; then
another process of the same cgroup is tried.

Mount points other than the root (``/etc/hosts``, ``/etc/resolv.conf``, volumes) are read from the same
process's mountinfo: what lies on them is not the image's.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from snoop.agent.namespaces import MountNamespaces
from snoop.agent.paths import mount_points
from snoop.agent.schedule import GoneTwice


@dataclass(frozen=True)
class Root:
    fd: int
    mounts: tuple[bytes, ...]  # mount points inside the container, "/" left out


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
        self._roots: OrderedDict[int, Root] = OrderedDict()
        self._gone: GoneTwice[int] = GoneTwice()  # cgroups whose roots are unpinned once found gone twice
        self._lock = threading.Lock()  # the ring reader pins, the main loop resolves and releases
        self.refused = 0  # candidates that were in the host's mount namespace or root

    def get(self, cgroup_id: int, pid: int) -> Root | None:
        """The root of ``cgroup_id``'s container, pinned through ``pid`` or another of its processes."""
        with self._lock:
            return self._get(cgroup_id, pid)

    def _get(self, cgroup_id: int, pid: int) -> Root | None:
        root = self._roots.get(cgroup_id)
        if root is not None:
            self._roots.move_to_end(cgroup_id)
            return root
        root = self._pin(pid)
        if root is None:
            others = (p for p in self._members(cgroup_id) if p != pid)
            root = next((r for r in map(self._pin, others) if r is not None), None)
        if root is None:
            return None
        self._roots[cgroup_id] = root
        while len(self._roots) > self._capacity:
            os.close(self._roots.popitem(last=False)[1].fd)
        return root

    def _pin(self, pid: int) -> Root | None:
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
        try:
            with open(f"{self._proc}/{pid}/mountinfo", "rb") as f:
                mounts = mount_points(f.read())
        except OSError:  # gone in between: the root is pinned, its mounts unknown
            mounts = ()
        return Root(fd, mounts)

    def release(self, alive: Callable[[int], bool]) -> None:
        """Unpins the roots of cgroups found gone at this call and the one before: a container that ran for a
        millisecond is gone long before the main loop handles its events, which still need its root."""
        with self._lock:
            for cgroup_id in self._gone.confirm({c for c in self._roots if not alive(c)}):
                os.close(self._roots.pop(cgroup_id).fd)

    def close(self) -> None:
        with self._lock:
            for root in self._roots.values():
                os.close(root.fd)
            self._roots.clear()
