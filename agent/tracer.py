"""The only module that imports bcc: compiles and loads the BPF program, polls its ring buffer."""

from __future__ import annotations

import ctypes
import platform
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from snoop.agent.events import RawEvent

# Slots of the BPF program's per-CPU stats array, in enum stat_slot order.
STAT_NAMES = (
    "open", "openat", "openat2", "creat", "execve", "execveat", "stat", "lstat", "newfstatat", "statx",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "chdir", "fchdir", "exec", "pivot_root",
    "chroot", "setns",
    "dropped", "read_error", "failed", "repeated", "runtime", "emitted", "procs_full",
)
PROC_CONTAINER = 2  # the BPF program's PROC_CONTAINER
BPF_NOEXIST = 1
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
    *, ringbuf_pages: int, seen_entries: int, procs_entries: int = 65536, tracefs: Path | None = None
) -> list[str]:
    """The -D flags that configure the program for this kernel and these limits."""
    if ringbuf_pages <= 0 or ringbuf_pages & (ringbuf_pages - 1):
        raise TracerError(f"--ring-buffer-pages must be a power of two, got {ringbuf_pages}")
    flags = [f"-DRINGBUF_PAGES={ringbuf_pages}", f"-DSEEN_ENTRIES={seen_entries}",
             f"-DPROCS_ENTRIES={procs_entries}"]
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
    return flags


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
    """Loads the program, hands each ring-buffer record to ``on_event`` as a RawEvent."""

    def __init__(
        self, *, on_event: Callable[[RawEvent], None], ringbuf_pages: int, seen_entries: int
    ) -> None:
        self._on_event = on_event
        self._ringbuf_pages = ringbuf_pages
        self._seen_entries = seen_entries
        cflags(ringbuf_pages=ringbuf_pages, seen_entries=seen_entries)  # bad limits fail here, before loading
        self._bpf: Any = None  # bcc.BPF, untyped

    def open(self) -> None:
        preflight()
        flags = cflags(ringbuf_pages=self._ringbuf_pages, seen_entries=self._seen_entries, tracefs=tracefs())
        try:
            from bcc import BPF  # noqa: PLC0415 - only here: the rest of snoop runs without bcc
        except ImportError as exc:
            raise TracerError("python module bcc missing: install Debian's python3-bpfcc") from exc
        try:
            self._bpf = BPF(text=program_text().encode(), cflags=flags)
        except Exception as exc:  # bcc raises bare Exception for compile and load failures
            raise TracerError(f"BPF program failed to compile or load: {exc}") from exc
        self._bpf[b"events"].open_ring_buffer(self._handle)

    def _handle(self, _ctx: object, data: int, _size: int) -> None:
        ev = self._bpf[b"events"].event(data)
        path = ctypes.string_at(data + type(ev).path.offset, ev.path_len)
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
        self._bpf.ring_buffer_poll(timeout_ms)

    def ignore_cgroup(self, cgroup_id: int) -> None:
        """Stops tracing a cgroup in the kernel (host or runtime cgroups found by userspace)."""
        table = self._bpf[b"cgroups"]
        leaf = table.Leaf()
        for cpu in range(table.total_cpu):
            leaf[cpu].ignored = 1
        table[table.Key(cgroup_id)] = leaf

    def adopt(self, pids: list[int]) -> int:
        """Marks processes that were already the container's before the program loaded (their pivot_root
        and exec came before it); processes the kernel has seen since keep what it decided. Returns how
        many were new to the kernel."""
        from bcc import lib  # noqa: PLC0415

        table = self._bpf[b"procs"]
        leaf = table.Leaf(PROC_CONTAINER)
        adopted = 0
        for pid in pids:
            key = table.Key(pid)
            if lib.bpf_update_elem(table.map_fd, ctypes.byref(key), ctypes.byref(leaf), BPF_NOEXIST) == 0:
                adopted += 1
        return adopted

    def stats(self) -> dict[str, int]:
        """Kernel counters summed over CPUs."""
        table = self._bpf[b"stats"]
        return {name: int(table.sum(table.Key(i)).value) for i, name in enumerate(STAT_NAMES)}

    def cgroup_events(self) -> dict[int, int]:
        """Successful accesses per cgroup, repeats included, summed over CPUs."""
        table = self._bpf[b"cgroups"]
        return {k.value: sum(cpu.events for cpu in table.getvalue(k)) for k in table}

    def forget_cgroups(self, alive: Callable[[int], bool]) -> None:
        """Drops the kernel's state of cgroups that are gone, so the table never fills up."""
        table = self._bpf[b"cgroups"]
        for key in list(table.keys()):
            if not alive(key.value):
                del table[key]

    def close(self) -> None:
        if self._bpf is not None:
            self._bpf.cleanup()
            self._bpf = None
