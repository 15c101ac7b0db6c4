"""A container started with ``ctr run`` (no CRI, no pod) is attributed through containerd's own API:
its namespace, container ID, image name and digest, and its files reach the collector like a pod's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, marker_image
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def ctr(containerd: Containerd, *args: str) -> str:
    out = subprocess.run(["ctr", "--address", str(containerd.socket), "-n", "default", *args], check=True,
                         capture_output=True, timeout=60)
    return out.stdout.decode()


def test_ctr_run_container_is_attributed(stack: Stack, containerd: Containerd, tmp_path: Path) -> None:
    image = marker_image(containerd, tmp_path, "ctr-app", "/etc/ctr-marker.conf")
    tar = containerd.root / "build" / "ctr-app" / "image.tar"
    ctr(containerd, "images", "import", "--base-name", "localhost/ctr-app", str(tar))
    ctr(containerd, "run", "-d", "--runtime", "io.containerd.runc.v2", image.reference, "ctr-web",
        "/bin/sh", "-c", "cat /etc/ctr-marker.conf; sleep 600")
    try:
        files = stack.wait_files(image.digest, {"/etc/ctr-marker.conf", "/bin/busybox"})
        assert "exec" in files["/bin/busybox"]["kinds"]
        assert not any(p.startswith(str(containerd.root)) for p in files)  # nothing of runc's start-up
        pods = stack.agent.output()
        assert "default container ctr-web of image localhost/ctr-app:latest" in pods
        workloads = httpx.get(f"{stack.base}/api/v1/workloads", params={"namespace": "default"}, timeout=10).json()
        (ctr_web,) = [w for w in workloads["workloads"] if w["name"] == "ctr-web"]
        assert ctr_web["kind"] == "Container" and ctr_web["images"] == [image.digest]
    finally:
        subprocess.run(["ctr", "--address", str(containerd.socket), "-n", "default", "task", "kill", "-s", "KILL",
                        "ctr-web"], capture_output=True)
        subprocess.run(["ctr", "--address", str(containerd.socket), "-n", "default", "task", "delete", "-f",
                        "ctr-web"], capture_output=True)
        subprocess.run(["ctr", "--address", str(containerd.socket), "-n", "default", "containers", "delete",
                        "ctr-web"], capture_output=True)
