"""An agent killed with files it has not delivered: the next one sends them. A container that is gone
is forgotten once its files are handed on."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.conftest import Process, eventually, free_port, wait_http
from tests.e2e.conftest import marker_image, metric_value, start_agent
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]
FILES = 2000


def wait_metric(url: str, name: str, at_least: float, timeout_s: float = 30) -> float:
    seen = [0.0]

    def reached() -> float | None:
        seen[0] = metric_value(httpx.get(f"{url}/metrics", timeout=5).text, name)
        return seen[0] if seen[0] >= at_least else None

    return eventually(reached, timeout_s, what=lambda: f"{name} stayed at {seen[0]}, wanted {at_least}")


def test_kill_9_with_an_unreachable_collector_loses_nothing(containerd: Containerd, tmp_path: Path) -> None:
    grpc_port, http_port = free_port(), free_port()
    spool = tmp_path / "spool"
    image = marker_image(containerd, tmp_path, "restart", "/etc/restart.conf")
    first, metrics = start_agent(containerd, tmp_path / "first.log", "--collector", f"127.0.0.1:{grpc_port}",
                                 "--spool-dir", str(spool), "--batch-interval", "200ms")
    pod = containerd.run_pod("restart-0", {"app": (image, ["/bin/sh", "-c",
        f"mkdir /tmp/many; for i in $(seq {FILES}); do touch /tmp/many/$i; done; cat /etc/restart.conf"])})
    try:
        assert containerd.wait_exited(pod.containers["app"]) == 0
        wait_metric(metrics, "snoop_spool_files", FILES)  # the collector is down: all of it waits
        assert metric_value(httpx.get(f"{metrics}/metrics").text, "snoop_collector_connected") == 0
        first.proc.send_signal(signal.SIGKILL)
        assert first.stop() == -signal.SIGKILL

        collector = Process(["collector", "--db", f"sqlite:///{tmp_path}/snoop.db", "--http-listen",
                             f"127.0.0.1:{http_port}", "--grpc-listen", f"127.0.0.1:{grpc_port}"],
                            tmp_path / "collector.log")
        second = None
        try:
            wait_http(f"http://127.0.0.1:{http_port}/readyz", proc=collector.proc)
            second, metrics = start_agent(containerd, tmp_path / "second.log", "--collector",
                                          f"127.0.0.1:{grpc_port}", "--spool-dir", str(spool))
            assert wait_metric(metrics, "snoop_spool_recovered_files_total", FILES) >= FILES
            assert metric_value(httpx.get(f"{metrics}/metrics").text, "snoop_previous_run_unclean") == 1
            wanted = {f"/tmp/many/{i}" for i in range(1, FILES + 1)} | {"/etc/restart.conf"}

            def delivered() -> bool:
                r = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/images/{image.digest}/files", timeout=10)
                return r.status_code == 200 and wanted <= {f["path"] for f in r.json()["files"]}

            eventually(delivered, timeout_s=30, every_s=0.3, what="the spooled files delivered")
            wait_metric(metrics, "snoop_collector_connected", 1)
        finally:
            if second is not None:
                assert second.stop() == 0
            collector.stop()
        assert list(spool.iterdir()) == []  # the second one stopped cleanly, all acknowledged: nothing left
    finally:
        containerd.remove_pod(pod)


def test_gone_containers_are_forgotten_after_their_files_are_handed_on(
    containerd: Containerd, tmp_path: Path
) -> None:
    image = marker_image(containerd, tmp_path, "forget", "/etc/forget.conf")
    agent, metrics = start_agent(containerd, tmp_path / "agent.log", "--output", str(tmp_path / "reports"),
                                 "--prune-interval", "1s", "--interval", "500ms")
    try:
        pod = containerd.run_pod("forget-0", {"app": (image, ["/bin/cat", "/etc/forget.conf"])})
        assert containerd.wait_exited(pod.containers["app"]) == 0
        wait_metric(metrics, "snoop_containers", 1)
        containerd.remove_pod(pod)
        wait_metric(metrics, "snoop_containers_forgotten_total", 1)
        assert metric_value(httpx.get(f"{metrics}/metrics").text, "snoop_containers") == 0
        assert metric_value(httpx.get(f"{metrics}/metrics").text, "snoop_build_info") == 1
        report = (tmp_path / "reports" / "default_forget-0.json").read_text()
        assert "/etc/forget.conf" in report  # its final report was written before it was forgotten
    finally:
        assert agent.stop() == 0
