"""The agent never traces itself, also from a pod's private cgroup namespace, where /proc/self/cgroup
cannot name its cgroup (the DaemonSet case, reproduced with unshare --cgroup)."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from snoop.agent.resolver.cgroup import cgroup2_mount
from tests.conftest import require
from tests.e2e.conftest import metric_value, start_agent
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def test_agent_in_private_cgroup_namespace_ignores_itself(
    bpf_ready: None, containerd: Containerd, tmp_path: Path
) -> None:
    require(shutil.which("unshare") is not None, "unshare (util-linux) is needed")
    # A cgroup named like a container the CRI does not know: were the agent's own accesses traced,
    # they would wait there for attribution and show in snoop_pending_events.
    cgroup = Path(cgroup2_mount()) / (uuid.uuid4().hex * 2)
    cgroup.mkdir()
    try:
        agent, metrics = start_agent(
            containerd, tmp_path / "agent.log", "--output", str(tmp_path / "reports"), "--interval", "200ms",
            "--batch-interval", "200ms",
            wrap=["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec unshare --cgroup "$@"', "sh"],
        )
        try:
            time.sleep(2)  # reports are written every 200 ms: the agent is busy opening files
            text = httpx.get(f"{metrics}/metrics").text
            assert metric_value(text, "snoop_pending_events") == 0, agent.output()
            assert metric_value(text, "snoop_events_unattributed_total") == 0
            assert "own cgroup (private cgroup namespace)" in agent.output()
        finally:
            assert agent.stop() == 0, agent.output()
    finally:
        cgroup.rmdir()
