"""From a kernel event to a recorded file: resolve the path now (the process may exit any moment),
attribute it to a container (now, or once the CRI has heard of it), drop what is not the image's."""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from snoop.agent.dedup import FileSets
from snoop.agent.events import (
    AT_FDCWD,
    FILE_KINDS,
    KIND_CGROUP,
    KIND_CHDIR,
    KIND_ENTER,
    KIND_FCHDIR,
    KIND_FORK,
    KIND_MISSING,
    KIND_OPENDIR,
    AccessKind,
    ContainerRef,
    FileType,
    RawEvent,
)
from snoop.agent.interpreters import interpreter_of
from snoop.agent.paths import excluded, file_type, join, resolve_in_root, rewrite_proc_self
from snoop.agent.processes import ProcessTable
from snoop.agent.resolver.registry import ContainerRegistry, Verdict
from snoop.agent.roots import ContainerRoots, Root

log = logging.getLogger(__name__)
MAX_INTERPRETERS = 4
TypedPath = tuple[bytes, FileType]


@dataclass
class PipelineCounters:
    """Named as their metrics are (agent/metrics.py Counters): they are passed to it by name."""

    paths_unresolved: int = 0     # relative path whose cwd/dirfd could not be learned
    paths_excluded: int = 0       # /proc, /sys, /dev, volumes, --exclude
    pending_dropped: int = 0      # waited for attribution, but the waiting room was full
    events_unattributed: int = 0  # cgroup turned out not to be a container
    events_processed: int = 0     # new (container, path, kind)
    missing_ignored: int = 0      # failed lookups of containers of images that are no slim images
    missing_cut: int = 0          # failed lookups past --max-missing of one container
    paths_unrooted: int = 0       # handled with no root of its container pinned: links on it not followed


class Pipeline:
    def __init__(
        self,
        *,
        registry: ContainerRegistry,
        processes: ProcessTable,
        files: FileSets,
        ignore_cgroup: Callable[[int], None],
        excludes: tuple[bytes, ...],
        exclude_mounts: bool,
        max_pending: int,
        roots: ContainerRoots,
        watch_missing: Callable[[int, bool], None] = lambda _cgroup, _watch: None,
        max_missing: int = 1000,
    ) -> None:
        self._registry = registry
        self._watch_missing = watch_missing
        self._max_missing = max_missing
        self._missing: dict[str, int] = {}  # container id -> failed lookups recorded
        self._processes = processes
        self._files = files
        self._ignore_cgroup = ignore_cgroup
        self._excludes = excludes
        self._exclude_mounts = exclude_mounts
        self._max_pending = max_pending
        self._roots = roots
        self._pending: OrderedDict[int, list[tuple[int, list[TypedPath], int, int]]] = OrderedDict()
        self._pending_count = 0
        self._unrooted_cgroups: set[int] = set()
        self.counters = PipelineCounters()

    @property
    def pending(self) -> int:
        return self._pending_count

    def observe(self, ev: RawEvent) -> None:
        """The moment an event is read (on the reader thread), while its process most likely still lives:
        learn its cgroup's path and pin its container's root, first from the runtime's helper that has
        just entered it (it waits there for the start), else from the process of the event. A container
        whose only process runs for milliseconds is gone, cgroup and all, by the time the events before
        it are handled; ``handle`` then finds what it needs here."""
        if ev.kind == KIND_CGROUP:
            self._registry.named(ev.cgroup_id, os.fsdecode(ev.path))
        elif ev.kind & FILE_KINDS or ev.kind == KIND_ENTER:
            self._registry.learn(ev.cgroup_id, ev.pid)
            self._roots.get(ev.cgroup_id, ev.pid)

    def handle(self, ev: RawEvent) -> None:
        if ev.kind in (KIND_ENTER, KIND_CGROUP):  # observed: nothing more to do
            return
        if ev.kind == KIND_FORK:
            self._processes.on_fork(ev.pid, ev.dirfd)
            return
        if ev.kind == KIND_CHDIR:
            self._processes.on_chdir(ev.pid, ev.path)
            return
        if ev.kind == KIND_FCHDIR:
            self._processes.on_fchdir(ev.pid, ev.dirfd)
            return
        root = self._roots.get(ev.cgroup_id, ev.pid)
        if root is None:
            self._unrooted(ev)
        paths = self._resolve(ev, root)
        if paths is None:
            self.counters.paths_unresolved += 1
            return
        if ev.kind & KIND_MISSING and paths[-1][1] != FileType.RUNTIME:
            paths[-1] = (paths[-1][0], FileType.MISSING)
        elif ev.kind & KIND_OPENDIR:
            self._processes.on_opendir(ev.pid, ev.ret, paths[-1][0])
            paths[-1] = (paths[-1][0], max(paths[-1][1], FileType.DIR))  # a runtime mount stays one
        kind = ev.kind & FILE_KINDS
        if kind & AccessKind.EXEC and not ev.kind & KIND_MISSING:
            paths += self._interpreters(root, paths[-1][0])
        verdict = self._registry.lookup(ev.cgroup_id, ev.pid)
        if verdict is Verdict.IGNORE:
            self.counters.events_unattributed += 1
            self._ignore_cgroup(ev.cgroup_id)
        elif verdict is Verdict.PENDING:
            self._wait(ev.cgroup_id, (ev.pid, paths, kind, ev.ts_ns))
        else:
            assert isinstance(verdict, ContainerRef)
            self._record(verdict, paths, kind, ev.ts_ns, ev.cgroup_id)

    def _unrooted(self, ev: RawEvent) -> None:
        """Counted, and said once per cgroup with how late the agent was: the remedy is a faster reader."""
        self.counters.paths_unrooted += 1
        if ev.cgroup_id not in self._unrooted_cgroups:
            if len(self._unrooted_cgroups) >= 4096:  # bounded: a cgroup said twice is better than memory lost
                self._unrooted_cgroups.clear()
            self._unrooted_cgroups.add(ev.cgroup_id)
            late_ms = (time.time_ns() - ev.ts_ns) / 1e6
            log.warning("cgroup %d: no process left to pin its root %.0f ms after its event (%s of pid %d, %s): "
                        "symlinks on its paths are not followed", ev.cgroup_id, late_ms, os.fsdecode(ev.path), ev.pid,
                        "alive" if os.path.exists(f"/proc/{ev.pid}") else "gone")

    def _wait(self, cgroup_id: int, item: tuple[int, list[TypedPath], int, int]) -> None:
        if self._pending_count >= self._max_pending:
            self.counters.pending_dropped += 1
            return
        self._pending.setdefault(cgroup_id, []).append(item)
        self._pending_count += 1

    def retry_pending(self) -> None:
        """Attributes what waited for the CRI; called on every tick of the main loop."""
        for cgroup_id in list(self._pending):
            items = self._pending[cgroup_id]
            verdict = self._registry.lookup(cgroup_id, items[0][0])
            if verdict is Verdict.PENDING:
                continue
            del self._pending[cgroup_id]
            self._pending_count -= len(items)
            if verdict is Verdict.IGNORE:
                self.counters.events_unattributed += len(items)
                self._ignore_cgroup(cgroup_id)
                continue
            assert isinstance(verdict, ContainerRef)
            for _pid, paths, kind, ts in items:
                self._record(verdict, paths, kind, ts, cgroup_id)

    def _resolve(self, ev: RawEvent, root: Root | None) -> list[TypedPath] | None:
        """The symlinks on the way and the final path, absolute as the container sees them, each with
        what it is there."""
        path = ev.path
        if not path.startswith(b"/"):
            at_cwd = ev.dirfd == AT_FDCWD
            base = self._processes.cwd(ev.pid) if at_cwd else self._processes.fd_path(ev.pid, ev.dirfd)
            if base is None or not base.startswith(b"/"):  # "socket:[…]", "anon_inode:…": not a dir
                return None
            path = join(base, path)
        return typed(root, rewrite_proc_self(path, ev.pid, ev.tid))

    def _interpreters(self, root: Root | None, executable: bytes) -> list[TypedPath]:
        """The loader or ``#!`` interpreter chain the kernel opened for an exec, links included."""
        found: list[TypedPath] = []
        for _ in range(MAX_INTERPRETERS):  # a script run by a script run by …: the kernel stops at 4 too
            interpreter = interpreter_of(root.fd, executable) if root is not None else None
            if interpreter is None:
                break
            chain = typed(root, interpreter)
            found += chain
            executable = chain[-1][0]
        return found

    def _record(self, ref: ContainerRef, paths: list[TypedPath], kind: int, ts_ns: int, cgroup_id: int) -> None:
        if paths[-1][1] == FileType.MISSING and not self._take_missing(ref, cgroup_id):
            paths = paths[:-1]  # the links on the way were used; the failed lookup is not kept
        mounts = tuple(m.encode() for m in ref.mounts) if self._exclude_mounts else ()
        for path, type_ in paths:
            if excluded(path, self._excludes) or excluded(path, mounts):
                self.counters.paths_excluded += 1
            elif self._files.record(ref, path, kind, ts_ns, type_):
                self.counters.events_processed += 1


    def forget(self, container_id: str) -> None:
        self._missing.pop(container_id, None)

    def _take_missing(self, ref: ContainerRef, cgroup_id: int) -> bool:
        """Whether a failed lookup is kept: only for a slim image's containers, at most --max-missing
        each. The kernel is told to stop sending what is not kept."""
        if not ref.slim_base:
            self.counters.missing_ignored += 1
            self._watch_missing(cgroup_id, False)
            return False
        taken = self._missing.get(ref.container_id, 0)
        if taken == 0:
            self._watch_missing(cgroup_id, True)
        if taken >= self._max_missing:
            self.counters.missing_cut += 1
            self._watch_missing(cgroup_id, False)
            return False
        self._missing[ref.container_id] = taken + 1
        return True


def typed(root: Root | None, path: bytes) -> list[TypedPath]:
    """``path`` resolved in ``root``: its links and its final path, each typed. Whatever lies on a mount
    the runtime made (``/etc/hosts``, …) is the runtime's, not the image's."""
    final, links = resolve_in_root(root.fd if root is not None else None, path)
    out = [(link, FileType.SYMLINK) for link in links]
    out.append((final, file_type(root.fd, final) if root is not None else FileType.UNKNOWN))
    if root is not None and root.mounts:
        out = [(p, FileType.RUNTIME if excluded(p, root.mounts) else t) for p, t in out]
    return out
