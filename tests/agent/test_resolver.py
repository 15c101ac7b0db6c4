from __future__ import annotations

import json
from pathlib import Path

import pytest

from snoop.agent.cri import cri_api_pb2 as cri
from snoop.agent.events import ContainerRef
from snoop.agent.resolver.cgroup import CgroupPaths, cgroup2_mount, container_id_from_path
from snoop.agent.resolver.cri import image_digest, ref_from_status
from snoop.agent.resolver.registry import ContainerRegistry, Verdict
from snoop.common.workload import workload_of

CID = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "path",
    [
        f"/k8s.io/{CID}",
        f"/kubepods/besteffort/pod1234/{CID}",
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-{CID}.scope",
        f"/kubepods.slice/kubepods-pod12.slice/crio-{CID}.scope",
        f"/system.slice/docker-{CID}.scope",
    ],
)
def test_container_id_from_cgroup_layouts(path: str) -> None:
    assert container_id_from_path(path) == CID


@pytest.mark.parametrize("path", ["/", "/system.slice/sshd.service", f"/kubepods/crio-conmon-{CID}.scope",
                                  "/kubepods/besteffort/pod1234"])
def test_non_container_cgroups(path: str) -> None:
    assert container_id_from_path(path) is None


def test_cgroup2_mount_is_found_not_assumed(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")
    assert cgroup2_mount(str(mounts)) == "/sys/fs/cgroup/unified"


def fixture_tree(tmp_path: Path, pid: int, cgroup: str) -> tuple[Path, Path]:
    """A stored /proc and cgroup2 tree, in the manner of client_python's tests/proc."""
    cg_root = tmp_path / "cgroup"
    (cg_root / cgroup.lstrip("/")).mkdir(parents=True)
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(f"12:memory:/whatever\n0::{cgroup}\n")
    return proc, cg_root


def test_cgroup_path_from_pid_and_from_walk(tmp_path: Path) -> None:
    proc, cg_root = fixture_tree(tmp_path, 77, f"/k8s.io/{CID}")
    paths = CgroupPaths(mount=str(cg_root), proc_root=str(proc))
    cgroup_id = paths.cgroup_id(f"/k8s.io/{CID}")
    assert paths.path_of(cgroup_id, 77) == f"/k8s.io/{CID}"
    fresh = CgroupPaths(mount=str(cg_root), proc_root=str(proc))
    assert fresh.path_of(cgroup_id, 999) == f"/k8s.io/{CID}"  # process gone: found by walking
    assert fresh.path_of(123456789, 999) is None


def test_a_cgroup_named_at_mkdir_resolves_after_it_is_gone(tmp_path: Path) -> None:
    """The kernel's word at mkdir outlives the cgroup and its processes; the oldest names are let go."""
    proc, cg_root = fixture_tree(tmp_path, 77, "/elsewhere")
    paths = CgroupPaths(mount=str(cg_root), proc_root=str(proc), capacity=2)
    paths.note(101, f"/k8s.io/{CID}")
    assert paths.path_of(101, 999) == f"/k8s.io/{CID}"  # no such process, no such directory
    paths.note(102, "/b")
    paths.note(103, "/c")
    assert paths.path_of(102, 999) == "/b"
    assert paths.path_of(101, 999) is None


def status(**overrides: object) -> cri.ContainerStatus:
    s = cri.ContainerStatus(
        id=CID, metadata=cri.ContainerMetadata(name="app"), image=cri.ImageSpec(image="registry/app:1.2"),
        image_ref="registry/app@sha256:" + "a" * 64, started_at=5,
        labels={"io.kubernetes.pod.name": "web-6d4cf56db6-x7k9m", "io.kubernetes.pod.namespace": "shop",
                "io.kubernetes.pod.uid": "uid-1", "io.kubernetes.container.name": "app"},
        mounts=[cri.Mount(container_path="/data", host_path="/var/lib/x")],
    )
    for k, v in overrides.items():
        getattr(s, k).CopyFrom(v)
    return s


def test_identity_from_container_status() -> None:
    info = {"info": json.dumps({"runtimeSpec": {"linux": {"cgroupsPath": f"/k8s.io/{CID}"}}})}
    ref = ref_from_status(status(), info, listed_image_ref="sha256:" + "b" * 64)
    assert ref.image_digest == "sha256:" + "a" * 64
    assert ref.image_id == "sha256:" + "b" * 64
    assert (ref.pod_namespace, ref.pod_name, ref.pod_uid, ref.name) == ("shop", "web-6d4cf56db6-x7k9m", "uid-1",
                                                                       "app")
    assert (ref.workload_kind, ref.workload_name) == ("Deployment?", "web")
    assert ref.cgroup_path == f"/k8s.io/{CID}"
    assert ref.mounts == ("/data",)


def test_image_key_falls_back_to_image_id() -> None:
    assert image_digest("sha256:" + "c" * 64, "") == "sha256:" + "c" * 64
    assert image_digest("registry/app:1.2", "sha256:" + "d" * 64) == "sha256:" + "d" * 64


def test_image_name_from_annotations_when_spec_holds_an_id() -> None:
    annotations = {"io.kubernetes.cri.image-name": "registry/app:1.2"}
    info = {"info": json.dumps({"runtimeSpec": {"annotations": annotations}})}
    ref = ref_from_status(status(image=cri.ImageSpec(image="sha256:" + "e" * 64)), info)
    assert ref.image_reference == "registry/app:1.2"


@pytest.mark.parametrize(
    ("pod", "kind", "name"),
    [
        ("web-6d4cf56db6-x7k9m", "Deployment?", "web"),
        ("db-0", "StatefulSet?", "db"),
        ("fluentd-x7k9m", "DaemonSet/Job?", "fluentd"),
        ("debug", "Pod?", "debug"),
    ],
)
def test_workload_from_pod_name(pod: str, kind: str, name: str) -> None:
    assert workload_of(pod) == (kind, name)


class ListedRuntime:
    """A RuntimeClient double that lists what the test says the runtime has."""

    def __init__(self) -> None:
        self.refs: list[ContainerRef] = []
        self.calls = 0

    def list_containers(self) -> list[ContainerRef]:
        self.calls += 1
        return list(self.refs)


def test_registry_waits_for_late_containers_then_decides(tmp_path: Path) -> None:
    proc, cg_root = fixture_tree(tmp_path, 77, f"/k8s.io/{CID}")
    (cg_root / "system.slice").mkdir()
    cgroups = CgroupPaths(mount=str(cg_root), proc_root=str(proc))
    runtime = ListedRuntime()
    now = [0.0]
    registry = ContainerRegistry(runtime=runtime, cgroups=cgroups, decide_within_s=30, clock=lambda: now[0])
    cgroup_id = cgroups.cgroup_id(f"/k8s.io/{CID}")
    assert registry.lookup(cgroup_id, 77) is Verdict.PENDING
    runtime.refs.append(ContainerRef(CID, "app", "p", "ns", "u", "img", "sha256:x", "sha256:y"))
    now[0] += 1
    ref = registry.lookup(cgroup_id, 77)
    assert isinstance(ref, ContainerRef)
    assert (ref.cgroup_id, ref.cgroup_path) == (cgroup_id, f"/k8s.io/{CID}")
    assert registry.lookup(cgroups.cgroup_id("/system.slice"), 1) is Verdict.IGNORE


def test_registry_gives_up_on_cgroups_the_runtime_never_lists(tmp_path: Path) -> None:
    proc, cg_root = fixture_tree(tmp_path, 77, f"/k8s.io/{CID}")
    cgroups = CgroupPaths(mount=str(cg_root), proc_root=str(proc))
    now = [0.0]
    registry = ContainerRegistry(runtime=ListedRuntime(), cgroups=cgroups, decide_within_s=30,
                                 clock=lambda: now[0])
    cgroup_id = cgroups.cgroup_id(f"/k8s.io/{CID}")
    assert registry.lookup(cgroup_id, 77) is Verdict.PENDING
    now[0] = 31
    assert registry.lookup(cgroup_id, 77) is Verdict.IGNORE
