"""A container that runs on without touching new files is still seen: its last_seen keeps moving."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually
from tests.e2e.conftest import marker_image, start_agent
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def last_updated(base: str) -> str | None:
    r = httpx.get(f"{base}/api/v1/pods/beat/quiet-0/report", timeout=5)
    return r.json()["last_updated_at"] if r.status_code == 200 else None


def test_quiet_running_container_keeps_being_seen(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base, grpc_addr = collector_proc
    image = marker_image(containerd, tmp_path, "quiet", "/etc/quiet.conf")
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr,
                           "--batch-interval", "200ms", "--heartbeat-interval", "1s")
    pod = containerd.run_pod("quiet-0", {"app": (image, ["/bin/sh", "-c", "cat /etc/quiet.conf; sleep 30"])},
                             namespace="beat")
    try:
        first = eventually(lambda: last_updated(base), what=lambda: agent.output()[-2000:])
        # No new file in the meantime: only heartbeats (every second) move it on.
        eventually(lambda: (later := last_updated(base)) is not None and later > first, timeout_s=10,
                   what="last_updated moved on by a heartbeat")
    finally:
        containerd.remove_pod(pod)
        assert agent.stop() == 0
