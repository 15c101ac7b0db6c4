"""A real file access, from a container's syscall to a REST answer: containerd + BPF agent + collector."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually
from tests.e2e.conftest import marker_image, start_agent
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def wait_for_files(base: str, digest: str, wanted: str, timeout_s: float = 20) -> dict:
    last: dict = {}

    def listed() -> dict | None:
        r = httpx.get(f"{base}/api/v1/images/{digest}/files", timeout=5)
        if r.status_code == 200:
            last.clear()
            last.update(r.json())
            return last if any(f["path"] == wanted for f in last["files"]) else None
        return None

    return eventually(listed, timeout_s, what=lambda: f"{wanted} never listed under {digest}; last answer: {last}")


def test_container_file_reaches_rest_api(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base, grpc_addr = collector_proc
    image = marker_image(containerd, tmp_path, "skeleton", "/etc/skeleton-marker.conf")
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr, "--node-name", "node-a",
                           "--batch-interval", "200ms")
    try:
        host_marker = Path(f"/tmp/snoop-host-{uuid.uuid4().hex}")
        host_marker.write_text("host\n")
        pod = containerd.run_pod(
            "skeleton-7d4f8b9c5d-x7k9m",
            {"app": (image, ["/bin/sh", "-c", f"cat /etc/skeleton-marker.conf; cat {host_marker}; sleep 1"])},
        )
        host_marker.read_text()  # the same moment, from a host process: must not be attributed

        body = wait_for_files(base, image.digest, "/etc/skeleton-marker.conf")
        paths = {f["path"] for f in body["files"]}
        assert body["image"]["digest"] == image.digest
        assert image.reference in body["image"]["references"]
        assert body["total"] == len(body["files"])
        # the entrypoint, through its symlink, is recorded as executed
        by_path = {f["path"]: f for f in body["files"]}
        assert "exec" in by_path["/bin/busybox"]["kinds"]
        assert "/bin/sh" in paths
        # a host process's file is not the container's; the container's own try of it failed (ENOENT)
        assert str(host_marker) not in paths
        # runc's start-up opens (its /proc/self/*, the rootfs under containerd's state, /etc/passwd)
        assert not any(str(containerd.root) in p for p in paths), paths
        assert "/etc/passwd" not in paths
        assert not any(p.startswith("/proc/") for p in paths)

        images = httpx.get(f"{base}/api/v1/images", timeout=5).json()["images"]
        listed = next(i for i in images if i["digest"] == image.digest)
        assert listed["containers"] == 1
        assert listed["files"] == len(paths)
        containerd.remove_pod(pod)
    finally:
        assert agent.stop() == 0, agent.output()
