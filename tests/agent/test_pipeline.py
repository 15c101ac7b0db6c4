"""The agent's core without BPF or containerd: kernel events -> resolved, typed paths -> per-container
sets -> batches and seed reports. A stored /proc and cgroup tree stand in for the node (as
prometheus/client_python's process collector tests do); a fake CRI names the container."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from snoop.agent.config import AgentConfig
from snoop.agent.convert import container_files_to_pb, split_batches
from snoop.agent.dedup import FileSets
from snoop.agent.events import (
    AT_FDCWD,
    KIND_CHDIR,
    KIND_ENTER,
    KIND_MISSING,
    KIND_OPENDIR,
    AccessKind,
    ContainerRef,
    FileType,
    RawEvent,
)
from snoop.agent.namespaces import MountNamespaces
from snoop.agent.pipeline import Pipeline
from snoop.agent.processes import ProcessTable
from snoop.agent.report import pod_reports
from snoop.agent.resolver.cgroup import CgroupPaths
from snoop.agent.resolver.registry import ContainerRegistry
from snoop.agent.roots import ContainerRoots

CID = "ab" * 32
RUNTIME_PID, APP_PID, HOST_PID = 40, 42, 43


class FakeCri:
    """The CRI for a test: lists what it is told to (a FAKE: no containerd here)."""

    def __init__(self) -> None:
        self.listed: list[ContainerRef] = []

    def list_containers(self) -> list[ContainerRef]:
        return self.listed


def proc_entry(proc: Path, pid: int, *, root: Path, ns: Path, cgroup: str, cwd: str = "/") -> None:
    d = proc / str(pid)
    (d / "ns").mkdir(parents=True)
    (d / "ns" / "mnt").symlink_to(ns)
    (d / "root").symlink_to(root)
    (d / "cwd").symlink_to(cwd)
    (d / "cgroup").write_text(f"0::{cgroup}\n")
    (d / "mountinfo").write_text("1 0 0:1 / / rw - overlay overlay rw\n"
                                 "2 1 8:1 /var/lib/c/hosts /etc/hosts rw - ext4 /dev/sda1 rw\n")


@pytest.fixture
def node(tmp_path: Path) -> dict:
    """A container rootfs, a /proc with the host's pid 1, the runtime's helper and the app, a cgroup tree."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin" / "busybox").write_bytes(b"\x7fELF")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (rootfs / "app" / "conf").mkdir(parents=True)
    (rootfs / "app" / "conf" / "a.ini").write_text("[a]\n")
    host_ns, container_ns = tmp_path / "ns-host", tmp_path / "ns-container"
    host_ns.write_text("")
    container_ns.write_text("")
    cgroups = tmp_path / "cgroup"
    (cgroups / "k8s.io" / CID).mkdir(parents=True)
    (cgroups / "k8s.io" / CID / "cgroup.procs").write_text(f"{HOST_PID}\n{RUNTIME_PID}\n{APP_PID}\n")
    proc = tmp_path / "proc"
    proc_entry(proc, 1, root=Path("/"), ns=host_ns, cgroup="/")
    proc_entry(proc, RUNTIME_PID, root=rootfs, ns=container_ns, cgroup=f"/k8s.io/{CID}")  # entered, waiting
    proc_entry(proc, APP_PID, root=rootfs, ns=container_ns, cgroup=f"/k8s.io/{CID}", cwd="/app")
    proc_entry(proc, HOST_PID, root=Path("/"), ns=host_ns, cgroup=f"/k8s.io/{CID}")  # a helper before pivot
    cgroup_id = os.stat(cgroups / "k8s.io" / CID).st_ino
    cri = FakeCri()
    paths = CgroupPaths(mount=str(cgroups), proc_root=str(proc))
    config = AgentConfig(node_name="n")  # the defaults users get
    files = FileSets(max_unique_files=config.max_unique_files)
    roots = ContainerRoots(namespaces=MountNamespaces(proc_root=str(proc)), members=paths.pids,
                           proc_root=str(proc))
    ignored: list[int] = []
    registry = ContainerRegistry(runtime=cri, cgroups=paths, refresh_every_s=0)
    pipeline = Pipeline(registry=registry, processes=ProcessTable(
        proc_root=str(proc)), files=files, ignore_cgroup=ignored.append, roots=roots,
        excludes=config.excludes, exclude_mounts=config.exclude_mounts, max_pending=config.max_pending_events)
    ref = ContainerRef(container_id=CID, name="app", pod_name="web-0", pod_namespace="shop", pod_uid="u",
                       image_reference="app:1", image_digest="sha256:app", image_id="sha256:cfg")
    return {"pipeline": pipeline, "files": files, "cri": cri, "ref": ref, "cgroup_id": cgroup_id, "roots": roots}


def event(cgroup_id: int, kind: int, path: bytes, pid: int = APP_PID, ret: int = 0) -> RawEvent:
    return RawEvent(cgroup_id=cgroup_id, ts_ns=1_000, pid=pid, tid=pid, dirfd=AT_FDCWD, ret=ret, kind=kind,
                    comm=b"sh", path=path)


def recorded(files: FileSets) -> dict[bytes, tuple[int, FileType]]:
    (entry,) = files.containers()
    return {p: (r.kinds, r.type) for p, r in entry.files.items()}


def test_events_become_typed_files_of_their_container(node: dict) -> None:
    pipeline, cgroup_id = node["pipeline"], node["cgroup_id"]
    enter = event(cgroup_id, KIND_ENTER, b"", pid=RUNTIME_PID)
    pipeline.observe(enter)  # the runtime entered the root: pinned now, before the app even runs
    pipeline.handle(enter)
    events = [
        event(cgroup_id, AccessKind.EXEC, b"/bin/sh"),
        event(cgroup_id, AccessKind.READ, b"conf/a.ini"),           # relative to the cwd, /app
        event(cgroup_id, AccessKind.READ | KIND_OPENDIR, b"/", ret=3),
        event(cgroup_id, AccessKind.READ, b"/etc/hosts"),           # on the runtime's bind mount
        event(cgroup_id, KIND_CHDIR, b"/bin"),
        event(cgroup_id, AccessKind.STAT, b"busybox"),
    ]
    for ev in events:
        pipeline.observe(ev)
        pipeline.handle(ev)
    assert pipeline.pending == 5  # the CRI has not listed the container yet: the files wait
    node["cri"].listed = [node["ref"]]
    pipeline.retry_pending()
    assert recorded(node["files"]) == {
        b"/bin/sh": (AccessKind.EXEC, FileType.SYMLINK),
        b"/bin/busybox": (AccessKind.EXEC | AccessKind.STAT, FileType.FILE),
        b"/app/conf/a.ini": (AccessKind.READ, FileType.FILE),
        b"/": (AccessKind.READ, FileType.DIR),
        b"/etc/hosts": (AccessKind.READ, FileType.RUNTIME),
    }

    (report,) = pod_reports(node["files"].containers(), node="n", started_at_ns=0, now_ns=0, dropped_events=0)
    (c,) = report["containers"]
    assert c["files"] == ["/app/conf/a.ini", "/bin/busybox", "/bin/sh"]
    assert (c["directories"], c["runtime_provided"], c["unique_files"]) == (["/"], ["/etc/hosts"], 3)

    (ref, delta, total), = node["files"].drain()
    batches = split_batches([container_files_to_pb(ref, "n", delta, total)], max_files=2)
    assert [sum(len(c.files) for c in b) for b in batches] == [2, 2, 1]
    assert {f.path: f.type for b in batches for c in b for f in c.files}[b"/etc/hosts"] == FileType.RUNTIME
    assert node["files"].drain() == []  # handed on once


def test_a_process_in_the_hosts_mount_namespace_never_pins_the_root(node: dict) -> None:
    """A runtime helper before pivot_root (or a recycled pid) would resolve links on the host's /."""
    roots, cgroup_id = node["roots"], node["cgroup_id"]
    node["pipeline"].observe(event(cgroup_id, AccessKind.READ, b"/etc/hosts", pid=HOST_PID))
    root = roots.get(cgroup_id, HOST_PID)  # refused; another process of the cgroup is the container's
    assert roots.refused == 1
    assert root is not None and os.readlink("bin/sh", dir_fd=root.fd) == "busybox"
    assert root.mounts == (b"/etc/hosts",)


@pytest.mark.parametrize("slim", [False, True])
def test_failed_lookups_are_kept_only_for_slim_images(node: dict, slim: bool) -> None:
    """A slim image's container records what it looked for in vain (at most max_missing, the kernel told
    to stop after); any other container's failed lookups are dropped, and the kernel told to stop at once."""
    import dataclasses

    told: list[tuple[int, bool]] = []
    pipeline, cgroup_id = node["pipeline"], node["cgroup_id"]
    pipeline._watch_missing, pipeline._max_missing = (lambda c, w: told.append((c, w))), 2
    node["cri"].listed = [dataclasses.replace(node["ref"], slim_base="sha256:base" if slim else "")]
    for path in (b"/etc/extra.conf", b"/bin/sh/../../lib/libz.so.1", b"/opt/third"):
        ev = event(cgroup_id, AccessKind.READ | KIND_MISSING, path)
        pipeline.observe(ev)
        pipeline.handle(ev)
    ev = event(cgroup_id, AccessKind.READ, b"/app/conf/a.ini")
    pipeline.observe(ev)
    pipeline.handle(ev)
    kept = recorded(node["files"])
    if slim:
        assert kept[b"/etc/extra.conf"] == (AccessKind.READ, FileType.MISSING)
        assert kept[b"/lib/libz.so.1"] == (AccessKind.READ, FileType.MISSING)
        assert b"/opt/third" not in kept and pipeline.counters.missing_cut == 1
        assert told == [(cgroup_id, True), (cgroup_id, False)]
    else:
        assert not any(t == FileType.MISSING for _, t in kept.values())
        assert pipeline.counters.missing_ignored == 3 and told[0] == (cgroup_id, False)
    assert kept[b"/app/conf/a.ini"] == (AccessKind.READ, FileType.FILE)
