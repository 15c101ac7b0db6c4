"""The BPF program on this kernel: in-kernel filtering and dedup, measured by its own counters."""

from __future__ import annotations

import errno
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snoop.agent.events import KIND_CGROUP, KIND_FORK, KIND_MISSING, AccessKind, RawEvent
from snoop.agent.loader import LoadError, spawn
from snoop.agent.resolver.cgroup import cgroup2_mount
from snoop.agent.tracer import CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, Tracer, can_load_bpf, cflags, program_text

pytestmark = pytest.mark.bpf


@pytest.fixture(scope="module")
def tracer(bpf_ready: None) -> Iterator[tuple[Tracer, list[RawEvent]]]:
    events: list[RawEvent] = []
    t = Tracer(on_event=events.append, ringbuf_pages=64, seen_entries=4096)
    t.open()
    yield t, events
    t.close()


@pytest.fixture
def cgroup() -> Iterator[Path]:
    path = Path(cgroup2_mount()) / f"snoop-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    path.rmdir()


def run_in(cgroup: Path, script: str, *, handover: str = "exec chroot / sh -c \"$0\"") -> None:
    """Runs ``sh -c script`` inside ``cgroup`` as a container's process: the shell moves itself in, then
    does what a runtime does last (changes its root, here to the same one, and execs). ``handover=""``
    runs the script as the runtime itself, before any handover."""
    run = handover or 'eval "$0"'
    subprocess.run(["sh", "-c", f"echo $$ > {cgroup}/cgroup.procs; {run}", script], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drain(t: Tracer) -> None:
    for _ in range(5):
        t.poll(20)


def test_repeats_end_in_the_kernel(tracer: tuple[Tracer, list[RawEvent]], cgroup: Path, tmp_path: Path) -> None:
    t, events = tracer
    target = tmp_path / "target.txt"
    target.write_text("x")
    before = t.stats()
    run_in(cgroup, f"for i in $(seq 500); do read x < {target}; done; cat /nonexistent-{uuid.uuid4().hex}; true")
    drain(t)
    after = t.stats()
    cid = os.stat(cgroup).st_ino
    mine = [e for e in events if e.cgroup_id == cid and e.path == os.fsencode(target)]
    assert len(mine) == 1  # 500 opens, one event
    assert mine[0].kind == AccessKind.READ
    assert after["repeated"] - before["repeated"] >= 499
    assert after["failed"] > before["failed"]  # the ENOENT: counted, never emitted as an access
    assert not any(b"nonexistent" in e.path and not e.kind & KIND_MISSING for e in events if e.cgroup_id == cid)
    assert t.cgroup_events()[cid] >= 500


def test_a_gone_cgroups_count_stays_until_found_gone_twice(tracer: tuple[Tracer, list[RawEvent]],
                                                           cgroup: Path) -> None:
    """The agent holds a container until it was found gone at two prunes in a row; its event count in the
    kernel must last as long, or its final report says it saw nothing."""
    t, _ = tracer
    run_in(cgroup, "cat /etc/hostname > /dev/null")
    drain(t)
    cid = os.stat(cgroup).st_ino
    counted = t.cgroup_events()[cid]
    assert counted > 0
    t.forget_cgroups(lambda c: c != cid)
    assert t.cgroup_events()[cid] == counted
    t.forget_cgroups(lambda c: c != cid)
    assert cid not in t.cgroup_events()


def test_failed_lookups_are_sent_until_userspace_says_whose(tracer: tuple[Tracer, list[RawEvent]],
                                                            cgroup: Path) -> None:
    """A new container's failed lookup comes as KIND_MISSING with its errno (a slim image's missing library
    at the entrypoint's exec must not be lost); once userspace says the image is no slim image, none does."""
    t, events = tracer
    cid = os.stat(cgroup).st_ino
    first, later = (f"/nonexistent-{uuid.uuid4().hex}" for _ in range(2))
    run_in(cgroup, f"cat {first}; true")
    drain(t)
    sent = [e for e in events if e.cgroup_id == cid and e.path == os.fsencode(first)]
    assert [(e.kind, e.ret) for e in sent] == [(AccessKind.READ | KIND_MISSING, -errno.ENOENT)]
    assert t.stats()["missing"] >= 1
    t.watch_missing(cid, False)
    run_in(cgroup, f"cat {later}/below; true")
    drain(t)
    assert not [e for e in events if e.cgroup_id == cid and os.fsencode(later) in e.path]


def test_a_new_cgroup_is_named_by_the_kernel(tracer: tuple[Tracer, list[RawEvent]]) -> None:
    """Its path comes with its ID as it is made: a container gone before its first event is handled is
    still named. cgroup v1 hierarchies of a hybrid host make no such event."""
    t, events = tracer
    mount = Path(cgroup2_mount())
    parent = mount / f"snoop-test-{uuid.uuid4().hex[:8]}"
    child = parent / "c\xe9"  # any byte a directory name may hold
    parent.mkdir()
    child.mkdir()
    ids = {os.stat(parent).st_ino: parent, os.stat(child).st_ino: child}
    child.rmdir()
    parent.rmdir()
    drain(t)
    made = {e.cgroup_id: e.path for e in events if e.kind == KIND_CGROUP and e.cgroup_id in ids}
    assert made == {cid: os.fsencode("/" + str(path.relative_to(mount))) for cid, path in ids.items()}


def test_host_processes_are_not_traced(tracer: tuple[Tracer, list[RawEvent]], tmp_path: Path) -> None:
    t, events = tracer
    marker = tmp_path / f"host-{uuid.uuid4().hex}"
    marker.write_text("x")
    subprocess.run(["cat", str(marker)], check=True, stdout=subprocess.DEVNULL)
    drain(t)
    assert not any(e.path == os.fsencode(marker) for e in events)


def test_ignored_cgroup_is_silenced_in_the_kernel(
    tracer: tuple[Tracer, list[RawEvent]], cgroup: Path, tmp_path: Path
) -> None:
    t, events = tracer
    cid = os.stat(cgroup).st_ino
    t.ignore_cgroup(cid)
    run_in(cgroup, f"cat /etc/hostname {tmp_path} 2>/dev/null; true")
    drain(t)
    assert not any(e.cgroup_id == cid and e.kind not in (KIND_FORK, KIND_CGROUP) for e in events)


def test_only_processes_that_were_handed_over_are_traced(
    tracer: tuple[Tracer, list[RawEvent]], cgroup: Path, tmp_path: Path
) -> None:
    """A process that joined the cgroup from outside is the runtime, whatever its name; after a root
    change and an exec it (and its children) is the container, and its first access is reported even
    though the runtime touched the same file before."""
    t, events = tracer
    marker = tmp_path / "runtime-then-container.txt"
    marker.write_text("x")
    before = t.stats()["runtime"]
    run_in(cgroup, f"read x < {marker}; exec chroot / cat {marker}", handover="")
    drain(t)
    cid = os.stat(cgroup).st_ino
    mine = [e for e in events if e.cgroup_id == cid and e.path == os.fsencode(marker)]
    assert t.stats()["runtime"] - before >= 2  # the read and the exec of chroot
    assert len(mine) == 1 and mine[0].comm.rstrip(b"\0") == b"cat"
    assert not any(e.cgroup_id == cid and e.path.endswith(b"/chroot") for e in events)


@pytest.mark.parametrize(("how", "handed_over"), [
    ("exec nsenter --mount=/proc/$$/ns/mnt sh -c \"$0\"", True),   # runc exec: setns into the mount ns
    ("exec nsenter --net=/proc/$$/ns/net sh -c \"$0\"", False),    # another namespace: still the runtime
])
def test_setns_into_a_mount_namespace_hands_over(
    tracer: tuple[Tracer, list[RawEvent]], cgroup: Path, tmp_path: Path, how: str, handed_over: bool
) -> None:
    t, events = tracer
    marker = tmp_path / f"setns-{uuid.uuid4().hex}"
    marker.write_text("x")
    run_in(cgroup, f"cat {marker}", handover=how)
    drain(t)
    cid = os.stat(cgroup).st_ino
    assert any(e.cgroup_id == cid and e.path == os.fsencode(marker) for e in events) is handed_over


def test_path_max_and_non_utf8_paths_arrive_whole(
    tracer: tuple[Tracer, list[RawEvent]], cgroup: Path, tmp_path: Path
) -> None:
    t, events = tracer
    odd = os.fsencode(tmp_path) + b"/caf\xe9-\xff.txt"
    with open(odd, "w") as f:
        f.write("x")
    # an absolute path of up to 4095 bytes (PATH_MAX with its NUL): tmp_path, /. padding, the name
    name = b"/caf\xe9-\xff.txt"
    long = os.fsencode(tmp_path) + b"/." * ((4095 - len(os.fsencode(tmp_path)) - len(name)) // 2) + name
    code = f"import os\nfor p in {[odd.hex(), long.hex()]!r}: os.close(os.open(bytes.fromhex(p), os.O_RDONLY))"
    run_in(cgroup, f"{sys.executable} -c {shlex.quote(code)}")
    drain(t)
    cid = os.stat(cgroup).st_ino
    paths = {e.path for e in events if e.cgroup_id == cid}
    assert odd in paths
    assert long in paths and len(long) > 4000


def test_program_renders_with_this_kernels_tracepoints() -> None:
    text = program_text()
    assert "TRACEPOINT_PROBE(syscalls, sys_enter_openat)" in text
    flags = cflags(ringbuf_pages=16, seen_entries=1024, tracefs=Path("/nonexistent"))
    assert flags == ["-DRINGBUF_PAGES=16", "-DSEEN_ENTRIES=1024", "-DPROCS_ENTRIES=65536", "-DPATH_MAX_LEN=4096"]
    with pytest.raises(Exception, match="power of two"):
        cflags(ringbuf_pages=3, seen_entries=1)


def test_capability_check() -> None:
    assert can_load_bpf(1 << CAP_SYS_ADMIN)
    assert can_load_bpf(1 << CAP_BPF | 1 << CAP_PERFMON)
    assert not can_load_bpf(1 << CAP_BPF)
    assert not can_load_bpf(0)


def test_drops_are_counted_and_not_lost_for_good(bpf_ready: None, cgroup: Path, tmp_path: Path) -> None:
    """A one-page ring buffer that nobody reads during a burst of 300 new paths overflows; every dropped
    path's dedup entry is removed, so its next access is reported."""
    events: list[RawEvent] = []
    small = Tracer(on_event=events.append, ringbuf_pages=1, seen_entries=4096)
    small.open()
    try:
        for i in range(300):
            (tmp_path / f"f{i}").write_text("x")
        burst = f"for i in $(seq 0 299); do read x < {tmp_path}/f$i; done; true"
        drain(small)
        before, already = small.stats(), len(events)
        run_in(cgroup, burst)
        dropped = small.stats()["dropped"] - before["dropped"]
        assert dropped > 0
        drain(small)
        # Exactly counted: every event the program sent was read, every one it could not send is a drop.
        assert small.stats()["emitted"] - before["emitted"] == len(events) - already
        cid = os.stat(cgroup).st_ino
        first = {e.path for e in events if e.cgroup_id == cid}
        missing = {os.fsencode(tmp_path / f"f{i}") for i in range(300)} - first
        assert 0 < len(missing) <= dropped  # the drops hid these, and nothing else did
        # the same accesses again, slowly, with a reader
        slow = f"for i in $(seq 0 299); do read x < {tmp_path}/f$i; sleep 0.001; done; true"
        proc = subprocess.Popen(["sh", "-c", f"echo $$ > {cgroup}/cgroup.procs; exec chroot / sh -c \"$0\"", slow])
        while proc.poll() is None:
            small.poll(5)
        drain(small)
        second = {e.path for e in events if e.cgroup_id == cid}
        assert missing <= second
    finally:
        small.close()


def test_the_compiler_stays_in_a_child(bpf_ready: None, tmp_path: Path) -> None:
    """A fresh agent process never maps BCC's LLVM: a child compiles and loads, hands over the maps and
    perf events, and exits; the program keeps tracing for the agent, and close() gives every fd back."""
    code = f"""
import os, subprocess, uuid
from pathlib import Path
from snoop.agent.resolver.cgroup import cgroup2_mount
from snoop.agent.tracer import Tracer
fds = len(os.listdir("/proc/self/fd"))
events = []
t = Tracer(on_event=events.append, ringbuf_pages=64, seen_entries=4096)
t.open()
maps = Path("/proc/self/maps").read_text()
cgroup = Path(cgroup2_mount()) / f"snoop-test-{{uuid.uuid4().hex[:8]}}"
cgroup.mkdir()
try:
    subprocess.run(["sh", "-c", f"echo $$ > {{cgroup}}/cgroup.procs; exec chroot / cat {tmp_path}/marker"],
                   check=True, stdout=subprocess.DEVNULL)
    for _ in range(5):
        t.poll(20)
finally:
    cgroup.rmdir()
t.close()
print("llvm" if "libLLVM" in maps or "libbcc" in maps else "no-llvm")
print(b"{tmp_path}/marker" in {{e.path for e in events}})
print(t.load_peak_rss_kib > 50_000, len(os.listdir("/proc/self/fd")) == fds)
"""
    (tmp_path / "marker").write_text("x")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["no-llvm", "True", "True", "True"]


def test_a_program_that_does_not_compile_says_why(bpf_ready: None) -> None:
    with pytest.raises(LoadError, match="Failed to compile"):
        spawn("this is not C;", [])
