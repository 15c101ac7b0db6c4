"""Each traced process's working directory, so relative paths resolve after the process is gone.

The kernel sends every successful chdir/fchdir and every fork of a traced cgroup (they are rare next to
opens); this table follows them. ``/proc/<pid>/cwd`` seeds a process seen for the first time.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from snoop.agent.paths import join, normalise


class ProcessTable:
    def __init__(self, *, proc_root: str = "/proc", capacity: int = 65536) -> None:
        self._proc = proc_root.encode()
        self._capacity = capacity
        self._cwd: OrderedDict[int, bytes] = OrderedDict()
        self._dir_fds: OrderedDict[int, dict[int, bytes]] = OrderedDict()  # pid -> fd -> directory

    def _remember(self, pid: int, cwd: bytes) -> None:
        self._cwd[pid] = cwd
        self._cwd.move_to_end(pid)
        while len(self._cwd) > self._capacity:
            self._cwd.popitem(last=False)

    def _read_link(self, pid: int, name: bytes) -> bytes | None:
        try:
            return os.readlink(self._proc + b"/%d/" % pid + name)
        except OSError:
            return None

    def cwd(self, pid: int) -> bytes | None:
        """The cwd as the container sees it, or None when neither events nor /proc tell it."""
        known = self._cwd.get(pid)
        if known is not None:
            return known
        seen = self._read_link(pid, b"cwd")
        if seen is not None:
            self._remember(pid, seen)
        return seen

    def _known_fd(self, pid: int, fd: int) -> bytes | None:
        return self._dir_fds.get(pid, {}).get(fd)

    def _remember_fds(self, pid: int, fds: dict[int, bytes]) -> None:
        self._dir_fds[pid] = fds
        self._dir_fds.move_to_end(pid)
        while len(self._dir_fds) > self._capacity:
            self._dir_fds.popitem(last=False)

    def fd_path(self, pid: int, fd: int) -> bytes | None:
        known = self._known_fd(pid, fd)
        return known if known is not None else self._read_link(pid, b"fd/%d" % fd)

    def on_opendir(self, pid: int, fd: int, path: bytes) -> None:
        """An O_DIRECTORY open: remember what the fd names (a reused fd number is overwritten)."""
        self._remember_fds(pid, {**self._dir_fds.get(pid, {}), fd: path})

    def on_chdir(self, pid: int, path: bytes) -> None:
        base = self.cwd(pid) if not path.startswith(b"/") else b"/"
        if base is not None:
            self._remember(pid, normalise(join(base, path)))

    def on_fchdir(self, pid: int, fd: int) -> None:
        directory = self._known_fd(pid, fd)
        if directory is not None:
            self._remember(pid, directory)
        else:
            self._cwd.pop(pid, None)
            self.cwd(pid)

    def on_fork(self, parent: int, child: int) -> None:
        """A child starts in its parent's cwd, holding its parent's directory fds."""
        cwd = self.cwd(parent)
        if cwd is not None:
            self._remember(child, cwd)
        fds = self._dir_fds.get(parent)
        if fds:
            self._remember_fds(child, dict(fds))
