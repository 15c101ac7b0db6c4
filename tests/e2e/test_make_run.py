"""The first minute of a new user, end to end: ``make run``'s script on a machine with no container
runtime running starts containerd, the collector, the agent and the demo; two images and their diff are
there to see; stopping it leaves no containerd and no pod behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, SNOOP, require

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]
SOCKET = Path("/run/containerd/containerd.sock")
PORTS = (8080, 50051, 9090)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def shims() -> list[str]:
    out = subprocess.run(["pgrep", "-af", f"containerd-shim.*-address {SOCKET}"], capture_output=True, text=True)
    return out.stdout.splitlines()


def test_make_run_shows_two_images_and_their_diff(bpf_ready: None, tmp_path: Path) -> None:
    require(not SOCKET.exists(), f"a container runtime already serves {SOCKET}: not a bare machine")
    require(all(port_free(p) for p in PORTS), f"ports {PORTS} are taken")
    log = tmp_path / "run.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        run = subprocess.Popen([str(REPO / "scripts/run.sh")], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, "SNOOP_DATA": str(tmp_path / "data")}, start_new_session=True)
    try:
        diff: dict = {}
        while time.monotonic() - started < 60:
            assert run.poll() is None, log.read_text()[-3000:]
            answer = subprocess.run([str(SNOOP), "diff", "demo/app:1", "demo/app:2", "-o", "json"],
                                    capture_output=True, timeout=30)
            if answer.returncode == 0:
                diff = json.loads(answer.stdout)
                if {"/app/config.yaml", "/app/templates/index.html"} <= set(diff["added"]):
                    break
            time.sleep(1)
        print(f"two images and their diff after {time.monotonic() - started:.0f} s")
        assert "/app/config.yaml" in diff.get("added", []), log.read_text()[-3000:]
        assert {"/app/config.json", "/app/legacy/report.txt"} <= set(diff["removed"])
        assert "/app/unused/big.bin" not in diff["added"] + diff["removed"] + diff["common"]
        printed = log.read_text()
        assert "snoop diff demo/app:1 demo/app:2" in printed  # the commands to try
        page = httpx.get("http://127.0.0.1:8080/", timeout=10).text
        assert "docker.io/demo/app:1" in page and "docker.io/demo/app:2" in page
    finally:
        run.send_signal(signal.SIGTERM)  # as systemd or a terminal's Ctrl-C would: the script stops the rest
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise
    assert re.search(r"demo: removed [2-9]\d* pods", log.read_text())  # 2, and any a killed run left
    assert not SOCKET.exists() and shims() == []  # the containerd it started is gone, and its pods with it
