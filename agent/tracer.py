"""The BPF program as the agent sees it: its build flags, the checks before loading, its ring buffer and maps."""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from snoop.agent.events import RawEvent
from snoop.agent.libbpf import BPF_NOEXIST, Map, RingBuffer
from snoop.agent.loader import Loaded, LoadError, spawn
from snoop.agent.schedule import GoneTwice
from snoop.common.limits import PATH_MAX

# Slots of the BPF program's per-CPU stats array, in enum stat_slot order.
STAT_NAMES = (
    "open", "openat", "openat2", "creat", "execve", "execveat", "stat", "lstat", "newfstatat", "statx",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "chdir", "fchdir", "exec", "pivot_root",
    "chroot", "setns",
    "dropped", "read_error", "failed", "repeated", "runtime", "emitted", "procs_full", "missing",
)
MISSING_WATCH, MISSING_DROP = 1, 2  # the BPF program's missing_mode values
PROC_CONTAINER = 2  # the BPF program's PROC_CONTAINER
SYSCALL_STATS = STAT_NAMES[: STAT_NAMES.index("dropped")]
TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
BOOT_TO_WALL_NS = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class TracerError(RuntimeError):
    """The BPF program cannot run here; the message says what to install or grant."""


def program_text() -> str:
    return resources.files("snoop.agent").joinpath("bpf/file_access.bpf.c").read_text()


def tracefs() -> Path | None:
    for d in TRACEFS_DIRS:
        try:
            if Path(d, "events").is_dir():
                return Path(d)
        except OSError:  # not readable without privileges
            continue
    return None


def _has_tracepoint(tracefs: Path | None, category: str, name: str) -> bool:
    return tracefs is not None and Path(tracefs, "events", category, name).is_dir()


def _has_field(tracefs: Path | None, category: str, name: str, field: str) -> bool:
    try:
        return tracefs is not None and f" {field};" in Path(tracefs, "events", category, name, "format").read_text()
    except OSError:
        return False


def cflags(
    *, ringbuf_pages: int, seen_entries: int, procs_entries: int = 65536, tracefs: Path | None = None,
    host_pidns: tuple[int, int] | None = None,
) -> list[str]:
    """The -D flags that configure the program for this kernel and these limits."""
    if ringbuf_pages <= 0 or ringbuf_pages & (ringbuf_pages - 1):
        raise TracerError(f"--ring-buffer-pages must be a power of two, got {ringbuf_pages}")
    flags = [f"-DRINGBUF_PAGES={ringbuf_pages}", f"-DSEEN_ENTRIES={seen_entries}",
             f"-DPROCS_ENTRIES={procs_entries}", f"-DPATH_MAX_LEN={PATH_MAX}"]
    optional = {
        "HAVE_OPENAT2": "sys_enter_openat2",
        "HAVE_FACCESSAT2": "sys_enter_faccessat2",
        "HAVE_LEGACY_SYSCALLS": "sys_enter_open",
    }
    for define, tracepoint in optional.items():
        if _has_tracepoint(tracefs, "syscalls", tracepoint):
            flags.append(f"-D{define}")
    if _has_field(tracefs, "sched", "sched_process_exit", "group_dead"):
        flags.append("-DHAVE_EXIT_GROUP_DEAD")
    if host_pidns is not None:
        flags += [f"-DHOST_PIDNS_DEV={host_pidns[0]}ULL", f"-DHOST_PIDNS_INO={host_pidns[1]}ULL"]
    return flags


def host_pid_namespace() -> tuple[int, int] | None:
    """(device, inode) of the host's pid namespace, as the kernel encodes them: the agent's own (it runs in the
    host's, with hostPID or outside any container; /proc/1/ns may be closed to it). None where it cannot be read."""
    try:
        st = os.stat("/proc/self/ns/pid")
    except OSError:
        return None
    return (os.major(st.st_dev) << 20) | os.minor(st.st_dev), st.st_ino


CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39


def effective_capabilities(status: str = "/proc/self/status") -> int:
    with open(status) as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def can_load_bpf(caps: int) -> bool:
    has = lambda cap: bool(caps >> cap & 1)  # noqa: E731
    return has(CAP_SYS_ADMIN) or (has(CAP_BPF) and has(CAP_PERFMON))


def preflight() -> None:
    """Fails early, with the fix, where BCC would fail late with a compiler dump."""
    if not can_load_bpf(effective_capabilities()):
        raise TracerError(
            "loading BPF needs root, or CAP_BPF + CAP_PERFMON (kernel 5.8+) or CAP_SYS_ADMIN: "
            "run as root or grant them (the DaemonSet in deploy/daemonset/ does)"
        )
    release = platform.release()
    if not Path("/lib/modules", release, "build", "include").exists():
        raise TracerError(
            f"kernel headers missing: /lib/modules/{release}/build does not exist. Install "
            "linux-headers-$(uname -r) (or Debian's linux-headers-amd64 and link it there; "
            "scripts/install-system.sh does that)"
        )
    if tracefs() is None:
        raise TracerError("tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing")


class Tracer:
    """Loads the program (in a child process, snoop.agent.loader), hands each ring-buffer record to
    ``on_event`` as a RawEvent."""

    def __init__(
        self, *, on_event: Callable[[RawEvent], None], ringbuf_pages: int, seen_entries: int
    ) -> None:
        self._on_event = on_event
        self._ringbuf_pages = ringbuf_pages
        self._seen_entries = seen_entries
        cflags(ringbuf_pages=ringbuf_pages, seen_entries=seen_entries)  # bad limits fail here, before loading
        self._loaded: Loaded | None = None
        self._ring: RingBuffer | None = None
        self.load_peak_rss_kib = 0
        self.load_seconds = 0.0
        self._gone: GoneTwice[int] = GoneTwice()  # cgroups whose kernel state goes once found gone twice

    def open(self) -> None:
        preflight()
        flags = cflags(ringbuf_pages=self._ringbuf_pages, seen_entries=self._seen_entries, tracefs=tracefs(),
                       host_pidns=host_pid_namespace())
        try:
            loaded = spawn(program_text(), flags)
        except LoadError as exc:
            raise TracerError(f"BPF program failed to compile or load: {exc}") from exc
        types = loaded.types
        self._loaded = loaded
        self.load_peak_rss_kib = loaded.peak_rss_kib
        self.load_seconds = loaded.seconds
        event = types["event"]
        self._path_offset = event.path.offset
        # Every field but the path (the last): a record is only as long as its path.
        self._header: Any = type("EventHeader", (ctypes.Structure,), {"_fields_": [f for f in event._fields_
                                                                                   if f[0] != "path"]})
        self._header_size = ctypes.sizeof(self._header)
        assert self._header_size <= self._path_offset, "the event's layout moved"
        self._cgroups = Map(loaded.maps["cgroups"], types["cgroups.key"], types["cgroups.value"], per_cpu=True)
        self._procs = Map(loaded.maps["procs"], types["procs.key"], types["procs.value"])
        self._stats = Map(loaded.maps["stats"], types["stats.key"], types["stats.value"], per_cpu=True)
        self._missing = Map(loaded.maps["missing_mode"], types["missing_mode.key"], types["missing_mode.value"])
        self._ring = RingBuffer(loaded.maps["events"], self._ringbuf_pages * mmap.PAGESIZE, self._handle)

    def _handle(self, record: memoryview) -> None:
        ev = self._header.from_buffer_copy(record[: self._header_size])
        path = record[self._path_offset : self._path_offset + ev.path_len].tobytes()
        self._on_event(
            RawEvent(
                cgroup_id=ev.cgroup_id,
                ts_ns=ev.ts_ns + BOOT_TO_WALL_NS,
                pid=ev.pid,
                tid=ev.tid,
                dirfd=ev.dirfd,
                ret=ev.ret,
                kind=ev.kind,
                comm=bytes(ev.comm),
                path=path,
            )
        )

    def poll(self, timeout_ms: int) -> None:
        assert self._ring is not None, "open() first"
        self._ring.poll(timeout_ms)

    def ignore_cgroup(self, cgroup_id: int) -> None:
        """Stops tracing a cgroup in the kernel (host or runtime cgroups found by userspace)."""
        state = self._cgroups.Value()
        state.ignored = 1
        self._cgroups.set(self._cgroups.Key(cgroup_id), state)

    def watch_missing(self, cgroup_id: int, watch: bool) -> None:
        """Whether the kernel sends the cgroup's failed lookups: yes for a slim image's containers (what
        the slim image lacks), no for the others once their image is known."""
        self._missing.set(self._missing.Key(cgroup_id), self._missing.Value(MISSING_WATCH if watch else MISSING_DROP))

    def adopt(self, pids: list[int]) -> int:
        """Marks processes that were already the container's before the program loaded (their pivot_root
        and exec came before it); processes the kernel has seen since keep what it decided. Returns how
        many were new to the kernel."""
        leaf = self._procs.Value(PROC_CONTAINER)
        return sum(self._procs.set(self._procs.Key(pid), leaf, BPF_NOEXIST) for pid in pids)

    def stats(self) -> dict[str, int]:
        """Kernel counters summed over CPUs."""
        totals = {}
        for i, name in enumerate(STAT_NAMES):
            per_cpu = self._stats.get(self._stats.Key(i)) or []
            totals[name] = sum(int(v.value) for v in per_cpu)
        return totals

    def cgroup_events(self) -> dict[int, int]:
        """Successful accesses per cgroup, repeats included, summed over CPUs."""
        events = {}
        for key in list(self._cgroups.keys()):
            per_cpu = self._cgroups.get(key)
            if per_cpu is not None:
                events[key.value] = sum(cpu.events for cpu in per_cpu)
        return events

    def forget_cgroups(self, alive: Callable[[int], bool]) -> None:
        """Drops the kernel's state of cgroups found gone at this call and the one before, so the table never
        fills up: as long as the agent holds their containers (gone twice too), their event counts stay."""
        known = {key.value for table in (self._cgroups, self._missing) for key in table.keys()}  # noqa: SIM118
        for cgroup_id in self._gone.confirm({c for c in known if not alive(c)}):
            for table in (self._cgroups, self._missing):
                table.delete(table.Key(cgroup_id))

    def close(self) -> None:
        """Detaches (closing the perf events) and lets go of the maps; the kernel frees the rest."""
        if self._ring is not None:
            self._ring.close()
            self._ring = None
        if self._loaded is not None:
            for fd in [*self._loaded.attachments, *self._loaded.maps.values()]:
                os.close(fd)
            self._loaded = None
