"""Exact inventories on nodes that grant no CAP_SYS_ADMIN (the DaemonSet as shipped): the agent reads
a multi-layer image's blobs from containerd's content store, whiteouts and an opaque directory applied,
and what a container wrote before the inventory ran is not the image's."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from snoop.agent.inventory.layers import CAP_SYS_ADMIN
from tests.conftest import Process
from tests.e2e.conftest import start_agent
from tests.e2e.test_inventory import LAYERED_GONE, LAYERED_NEW, layered_image, summary_when, walk
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]
WRITTEN = ("/etc/written", "/opt/written-too", "/srv/new-dir/file")


def summary(base: str, digest: str, timeout_s: float = 90) -> dict:
    """Once the inventory is in and the three files the container wrote are counted as its own."""
    return summary_when(base, digest, lambda body: body["inventory"]["files"] is not None
                        and (body["runtime_created"] or {}).get("files", 0) >= 3, timeout_s)


def test_layers_from_the_content_store_without_cap_sys_admin(
    bpf_ready: None, containerd: Containerd, collector_proc: tuple[Process, str, str], tmp_path: Path
) -> None:
    _, base_url, grpc_addr = collector_proc
    base, tar = layered_image(tmp_path)
    image = containerd.import_image("layered-nocap", tar=tar)
    writes = "; ".join(f"mkdir -p {Path(p).parent}; echo w > {p}" for p in WRITTEN)
    command = ["/bin/sh", "-c", f"{writes}; while true; do cat {' '.join(WRITTEN)} /srv/added >/dev/null; "
                                "sleep 0.5; done"]
    pod = containerd.run_pod("nocap-7d4f8b9c5d-abcde", {"app": (image, command)})
    time.sleep(1)  # it has written before any agent runs
    agent, _ = start_agent(containerd, tmp_path / "agent.log", "--collector", grpc_addr, "--batch-interval", "200ms",
                           wrap=["setpriv", "--bounding-set", "-sys_admin", "--"])
    try:
        status = Path(f"/proc/{agent.proc.pid}/status").read_text()
        cap_eff = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
        assert not cap_eff >> CAP_SYS_ADMIN & 1
        found = summary(base_url, image.digest)
        assert found["inventory"]["source"] == "layers", agent.output()[-3000:]
        unused = set(httpx.get(f"{base_url}/api/v1/images/{image.digest}/files",
                               params={"used": "false", "format": "text"}, timeout=10).text.splitlines())
        used_files = httpx.get(f"{base_url}/api/v1/images/{image.digest}/files", timeout=10).json()["files"]
        in_image = {f["path"] for f in used_files if f["size"] is not None}
        expected = walk(base)[0] - LAYERED_GONE | LAYERED_NEW
        assert unused | in_image == expected
        assert found["inventory"]["files"] == len(expected)
        assert not set(WRITTEN) & (unused | in_image)
        assert found["runtime_created"]["files"] >= len(WRITTEN)
        assert set(WRITTEN) <= {f["path"] for f in used_files if f["size"] is None}
    finally:
        containerd.remove_pod(pod)
        assert agent.stop() == 0
