"""Pods that start together: each report holds its own container's files and nothing else.

Twelve pods of one image start at the same moment, three times over: runc's start-up (as plain
``runc`` before it renames itself, then ``runc:[2:INIT]`` until it execs the entrypoint) runs in each
container's cgroup while its neighbours start. Every path of every report is checked against the
image's own rootfs: nothing of the host, nothing of the runtime, and the entrypoint's binary present.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually, require
from tests.e2e.conftest import Stack
from tests.harness.containerd import Containerd, Image, Pod, prepare_crun_cgroups
from tests.harness.hostcopy import have_host_programs, python_strace_rootfs
from tests.harness.images import busybox_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

PODS = 12
ROUNDS = 3
RUNTIME_PROVIDED = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


def start_together(containerd: Containerd, image: Image, command: list[str], prefix: str,
                   runtime: str = "") -> list[Pod]:
    with ThreadPoolExecutor(PODS) as pool:
        return list(pool.map(
            lambda i: containerd.run_pod(f"{prefix}-{i}", {"app": (image, command)}, namespace="together",
                                         runtime_handler=runtime),
            range(PODS)))


def wait_reports(stack: Stack, pods: list[Pod], wanted: set[str], timeout_s: float = 30) -> dict[str, dict]:
    """Each pod's one container entry, once it lists ``wanted``; then a moment for stragglers."""
    reports: dict[str, dict] = {}
    lacking: dict[str, list[str]] = {}

    def complete() -> bool:
        for pod in pods:
            r = httpx.get(f"{stack.base}/api/v1/pods/{pod.namespace}/{pod.name}/report", timeout=5)
            listed = set(r.json()["containers"][0]["files"]) if r.status_code == 200 else set()
            if wanted <= listed:
                reports[pod.name] = r.json()["containers"][0]
            else:
                lacking[pod.name] = sorted(wanted - listed)
        return len(reports) == len(pods)

    eventually(complete, timeout_s, what=lambda: f"reports lack "
               f"{ {name: lacking[name] for name in {p.name for p in pods} - reports.keys()} }\n"
               f"{stack.agent.output()[-2000:]}")
    time.sleep(1)  # a batch interval and more: whatever else the agent had is in by now
    for pod in pods:
        reports[pod.name] = httpx.get(
            f"{stack.base}/api/v1/pods/{pod.namespace}/{pod.name}/report", timeout=5).json()["containers"][0]
    return reports


def strays(rootfs: Path, report: dict) -> list[str]:
    """Listed files that are not files of the image: absent from it, or directories."""
    root = os.fsencode(rootfs)
    out = []
    for path in report["files"]:
        on_disk = root + os.fsencode(path)
        if not os.path.lexists(on_disk) or (os.path.isdir(on_disk) and not os.path.islink(on_disk)):
            out.append(path)
    return out


def check_round(stack: Stack, containerd: Containerd, image: Image, rootfs: Path, command: list[str],
                wanted: set[str], prefix: str, runtime: str = "") -> dict[str, dict]:
    pods = start_together(containerd, image, command, prefix, runtime)
    try:
        reports = wait_reports(stack, pods, wanted)
        bad = {name: found for name, r in reports.items() if (found := strays(rootfs, r))}
        assert bad == {}, f"files not in the image: {bad}"
        for name, report in reports.items():
            assert wanted <= set(report["files"]), name
            assert set(report["runtime_provided"]) <= RUNTIME_PROVIDED, name
            assert all(os.path.isdir(os.fsencode(rootfs) + os.fsencode(d)) for d in report["directories"]), name
        return reports
    finally:
        for pod in pods:
            containerd.remove_pod(pod)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_busybox_pods_started_together_report_only_their_image(
    stack: Stack, containerd: Containerd, tmp_path: Path, round_: int
) -> None:
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    (rootfs / "etc" / "together.conf").write_text("x\n")
    image = containerd.import_image(f"together-{round_}", rootfs=rootfs)
    command = ["/bin/sh", "-c", "cat /etc/together.conf /etc/hostname; ls / > /dev/null; sleep 1"]
    pods_reports = check_round(stack, containerd, image, rootfs, command,
                               {"/bin/sh", "/bin/busybox", "/etc/together.conf"}, f"bb{round_}-{uuid.uuid4().hex[:6]}")
    for report in pods_reports.values():  # `ls /` lists the root: a directory, never a file to keep
        assert "/" in report["directories"] and "/etc/hostname" in report["runtime_provided"]


def test_glibc_pods_started_together_report_only_their_image(
    stack: Stack, containerd: Containerd, tmp_path: Path
) -> None:
    require(have_host_programs(), "python3.11 is needed on the host to build the glibc image")
    rootfs = python_strace_rootfs(tmp_path / "rootfs")
    image = containerd.import_image("together-glibc", rootfs=rootfs)
    command = ["/usr/bin/python3", "-c", "import json; open('/etc/passwd').read()"]
    wanted = {"/usr/bin/python3", "/usr/bin/python3.11", "/etc/passwd", "/usr/lib/python3.11/json/__init__.py"}
    check_round(stack, containerd, image, rootfs, command, wanted, f"gl-{uuid.uuid4().hex[:6]}")


def test_entrypoints_that_exit_at_once_still_resolve_in_their_root(
    stack: Stack, containerd: Containerd, tmp_path: Path
) -> None:
    """``/bin/true`` is gone within a millisecond, and so is its container; the root was pinned while
    the runtime waited in it for the start, so the link still resolves to its target in the image."""
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    image = containerd.import_image("together-true", rootfs=rootfs)
    check_round(stack, containerd, image, rootfs, ["/bin/true"], {"/bin/true", "/bin/busybox"},
                f"tr-{uuid.uuid4().hex[:6]}")


def test_another_oci_runtime_is_told_apart_the_same_way(
    stack: Stack, containerd: Containerd, tmp_path: Path
) -> None:
    """crun (C, one process, its own names) hands over as runc does: a root change, then the exec."""
    require(shutil.which("crun") is not None, "crun not installed")
    problem = prepare_crun_cgroups()
    require(problem is None, problem or "")
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    (rootfs / "etc" / "crun.conf").write_text("x\n")
    image = containerd.import_image("together-crun", rootfs=rootfs)
    command = ["/bin/sh", "-c", "cat /etc/crun.conf /etc/hostname; sleep 1"]
    check_round(stack, containerd, image, rootfs, command, {"/bin/sh", "/bin/busybox", "/etc/crun.conf"},
                f"cr-{uuid.uuid4().hex[:6]}", runtime="crun")
