"""An exec into a running container (``kubectl exec``, ``crictl exec``: the CRI's ExecSync, ``runc exec``) is the
container's: runc joins its namespaces before its cgroup, so the agent never sees it enter, and still its files are
the container's; the runtime's side of it (runc's own binary, the bundle, /proc) is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, marker_image
from tests.harness.containerd import Containerd
from tests.harness.tools import tool

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def test_an_exec_is_attributed_to_its_container_and_its_runtime_side_is_not(
        stack: Stack, containerd: Containerd, tmp_path: Path) -> None:
    image = marker_image(containerd, tmp_path, "exec-target", "/etc/exec-target.conf")
    pod = containerd.run_pod("exec-target-0", {"app": (image, ["/bin/sh", "-c", "cat /etc/exec-target.conf; "
                                                                              "exec sleep 600"])})
    try:
        stack.wait_files(image.digest, {"/etc/exec-target.conf"})
        done = subprocess.run([str(tool("crictl")), f"--runtime-endpoint={containerd.endpoint}", "exec",
                               pod.containers["app"], "/bin/sh", "-c", "touch /tmp/exec-was-here; cat /etc/passwd"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        files = stack.wait_files(image.digest, {"/tmp/exec-was-here", "/etc/passwd"})
        runtime_side = [p for p in files if p.startswith(("/usr/sbin/runc", "/usr/bin/runc", "/run/containerd",
                                                         str(containerd.root), "/proc/self/exe"))]
        assert runtime_side == []
    finally:
        containerd.remove_pod(pod)
