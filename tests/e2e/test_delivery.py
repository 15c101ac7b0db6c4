"""Delivery without loss: what the agent holds at SIGTERM reaches the collector and the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process
from tests.e2e.conftest import marker_image, start_agent
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def test_sigterm_flushes_batches_and_report(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base, grpc_addr = collector_proc
    image = marker_image(containerd, tmp_path, "flush", "/etc/flush-me.conf")
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr, "--batch-interval", "1h",
                           "--interval", "1h", "--output", str(tmp_path / "reports"))
    pod = containerd.run_pod("flush-0", {"app": (image, ["/bin/cat", "/etc/flush-me.conf"])})
    containerd.wait_exited(pod.containers["app"])
    time.sleep(1.0)  # the events are read; nothing is sent before the hour-long interval
    files = httpx.get(f"{base}/api/v1/images/{image.digest}/files", timeout=5)
    assert files.status_code == 404
    assert agent.stop() == 0, agent.output()

    files = httpx.get(f"{base}/api/v1/images/{image.digest}/files", timeout=5).json()["files"]
    assert "/etc/flush-me.conf" in {f["path"] for f in files}
    report = json.loads((tmp_path / "reports" / "default_flush-0.json").read_text())
    assert "/etc/flush-me.conf" in report["containers"][0]["files"]
    containerd.remove_pod(pod)
