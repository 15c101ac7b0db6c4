"""The discovery curve from a real agent run: workloads of one image started at different times find
files at different times; the summary tells when the last new one appeared and what ran since."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually
from tests.e2e.conftest import start_agent
from tests.harness.containerd import Containerd
from tests.harness.images import busybox_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def summary(base: str, digest: str) -> dict:
    r = httpx.get(f"{base}/api/v1/images/{digest}/summary", timeout=5)
    return r.json() if r.status_code == 200 else {}


def used(base: str, digest: str) -> set[str]:
    r = httpx.get(f"{base}/api/v1/images/{digest}/files", params={"format": "text"}, timeout=5)
    return set(r.text.splitlines()) if r.status_code == 200 else set()


def test_discovery_curve_over_workloads_started_at_different_times(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base, grpc_addr = collector_proc
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    for name in ("first", "second"):
        (rootfs / f"etc/{name}.conf").write_text(f"{name}\n")
    image = containerd.import_image("discover", rootfs=rootfs)
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr,
                           "--batch-interval", "200ms", "--heartbeat-interval", "1s")
    pods = []
    try:
        pods.append(containerd.run_pod("early-0", {"app": (image, ["/bin/sh", "-c", "cat /etc/first.conf; sleep 60"])},
                                       namespace="disc"))
        eventually(lambda: "/etc/first.conf" in used(base, image.digest), what=lambda: agent.output()[-2000:])
        time.sleep(3)  # the late discovery lands seconds apart from the first: two points of the curve
        late_start = time.time()
        late = ["/bin/sh", "-c", "cat /etc/first.conf /etc/second.conf; sleep 60"]
        pods.append(containerd.run_pod("late-0", {"app": (image, late)}, namespace="disc"))
        eventually(lambda: "/etc/second.conf" in used(base, image.digest), what="/etc/second.conf used")
        time.sleep(3)  # both run on, finding nothing new: heartbeats only
        found = summary(base, image.digest)
        curve = [p["files"] for p in found["discovery"]["curve"]]
        assert len(curve) >= 2 and curve == sorted(curve) and curve[0] < curve[-1]
        stable = datetime.fromisoformat(found["discovery"]["stable_since"].replace("Z", "+00:00")).timestamp()
        assert late_start - 1 <= stable <= time.time()
        assert found["discovery"]["nodes_since"] == 1 and found["discovery"]["container_hours_since"] > 0
        cov = found["coverage"]
        assert cov["instances"] == 2 and cov["observed_seconds"] >= 4  # 6 s of sleeps, heartbeats each second
        assert cov["container_seconds"] > cov["observed_seconds"]  # the two ran side by side
    finally:
        for pod in pods:
            containerd.remove_pod(pod)
        assert agent.stop() == 0
