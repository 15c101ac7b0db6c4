"""A pod's workload from its owner references (Kubernetes API — a FAKE one, none can run here), not
from its name: through the real agent, CRI and collector."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually
from tests.e2e.conftest import marker_image, start_agent
from tests.harness.containerd import Containerd
from tests.harness.fake_kube_api import FakeKubeApi

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def test_workload_comes_from_owner_references(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base, grpc_addr = collector_proc
    api = FakeKubeApi()
    uid = str(uuid.uuid4())
    api.add_pod(uid, "frontend", "ReplicaSet", "shop-frontend-7c9d8f", template_hash="7c9d8f")
    image = marker_image(containerd, tmp_path, "owned", "/etc/owned.conf")
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr, "--node-name", "node-o",
                           "--batch-interval", "200ms", "--kube-api", api.url)
    try:
        pod = containerd.run_pod("frontend", {"app": (image, ["/bin/cat", "/etc/owned.conf"])}, uid=uid)
        def named() -> dict | None:
            listed = httpx.get(f"{base}/api/v1/workloads", params={"namespace": "default"}).json()["workloads"]
            found = {w["name"]: w for w in listed}
            return found if "shop-frontend" in found else None

        workloads = eventually(named, what=agent.output)
        assert workloads["shop-frontend"]["kind"] == "Deployment", agent.output()
        assert workloads["shop-frontend"]["kind_source"] == "owner"
        assert "frontend" not in workloads  # the name-based guess ("Pod frontend") was not used
        def listed() -> list[str]:  # the exec and the open may go in two batches: the first named the workload
            return httpx.get(f"{base}/api/v1/workloads/default/shop-frontend/files",
                             params={"format": "text"}).text.splitlines()

        eventually(lambda: "/etc/owned.conf" in listed(), what=lambda: f"files: {listed()}")
        assert any(q.get("fieldSelector") == ["spec.nodeName=node-o"] for _, q, _ in api.requests)
        containerd.remove_pod(pod)
    finally:
        assert agent.stop() == 0, agent.output()
        api.close()
