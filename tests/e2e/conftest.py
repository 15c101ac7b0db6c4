"""One collector and one agent for the end-to-end tests of a module, on the session's containerd."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually, free_port, wait_http
from tests.harness.containerd import Containerd, Image
from tests.harness.images import busybox_rootfs


@dataclass
class Stack:
    base: str            # collector REST
    grpc: str            # collector gRPC
    metrics: str         # agent metrics/health
    reports: Path        # agent --output
    agent: Process
    collector: Process

    def files(self, digest: str) -> dict[str, dict]:
        r = httpx.get(f"{self.base}/api/v1/images/{digest}/files", timeout=10)
        return {f["path"]: f for f in r.json()["files"]} if r.status_code == 200 else {}

    def wait_files(self, digest: str, wanted: set[str], timeout_s: float = 20) -> dict[str, dict]:
        seen: dict[str, dict] = {}

        def complete() -> dict[str, dict] | None:
            seen.clear()
            seen.update(self.files(digest))
            return seen if wanted <= seen.keys() else None

        return eventually(complete, timeout_s, what=lambda: f"missing {sorted(wanted - seen.keys())}; have "
                                                          f"{sorted(seen)}\n{self.agent.output()[-3000:]}")

    def metric(self, name: str) -> float:
        return metric_value(httpx.get(f"{self.metrics}/metrics", timeout=5).text, name)


def metric_value(text: str, name: str) -> float:
    """The sum of a metric's samples in Prometheus text format."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((name + " ", name + "{")))


def start_agent(containerd: Containerd, log: Path, *flags: str, wrap: list[str] | None = None) -> tuple[Process, str]:
    """A real ``snoop agent`` on the session's containerd, once ready; with its metrics URL."""
    metrics = f"127.0.0.1:{free_port()}"
    spool = log.with_name(log.stem + ".spool")  # the caller's --spool-dir, if any, comes later and wins
    agent = Process(["agent", "--cri-endpoint", containerd.endpoint, "--metrics-listen", metrics,
                     "--spool-dir", str(spool), *flags], log,
                    wrap=wrap)
    try:
        wait_http(f"http://{metrics}/readyz", timeout_s=60, proc=agent.proc)
    except Exception:
        agent.stop()
        raise AssertionError(agent.output()) from None
    return agent, f"http://{metrics}"


def marker_image(containerd: Containerd, root: Path, name: str, marker: str) -> Image:
    """A busybox image that also holds the file ``marker``."""
    rootfs = busybox_rootfs(root / "rootfs")
    (rootfs / marker.lstrip("/")).write_text(f"{name}\n")
    return containerd.import_image(name, rootfs=rootfs)


@pytest.fixture(scope="module")
def stack(bpf_ready: None, containerd: Containerd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    http, grpc_port = free_port(), free_port()
    collector = Process(
        ["collector", "--db", f"sqlite:///{tmp}/snoop.db", "--http-listen", f"127.0.0.1:{http}",
         "--grpc-listen", f"127.0.0.1:{grpc_port}"], tmp / "collector.log")
    wait_http(f"http://127.0.0.1:{http}/readyz", proc=collector.proc)
    try:
        agent, metrics = start_agent(
            containerd, tmp / "agent.log", "--collector", f"127.0.0.1:{grpc_port}", "--node-name", "node-e2e",
            "--batch-interval", "200ms", "--interval", "500ms", "--output", str(tmp / "reports"))
    except AssertionError:
        collector.stop()
        raise
    yield Stack(f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc_port}", metrics, tmp / "reports", agent, collector)
    agent.stop()
    collector.stop()
