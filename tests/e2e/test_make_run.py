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

from tests.conftest import REPO, SNOOP, eventually, require

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]
SOCKET = Path("/run/containerd/containerd.sock")
PORTS = (8080, 50051, 9090)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def shims() -> list[str]:
    out = subprocess.run(["pgrep", "-af", f"containerd-shim.*-address {SOCKET}"], capture_output=True, text=True)
    return out.stdout.splitlines()


def mounts() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "/run/containerd" in line]


def start_run(tmp_path: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([str(REPO / "scripts/run.sh")], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "SNOOP_DATA": str(tmp_path / "data")}, start_new_session=True)


def interrupt(run: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group, the script and its children alike."""
    os.killpg(run.pid, signal.SIGINT)
    try:
        run.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        raise


def assert_nothing_left() -> None:
    assert not SOCKET.exists() and shims() == [] and mounts() == []
    assert all(port_free(p) for p in PORTS)


def demo_rows() -> list[dict]:
    out = subprocess.run([str(SNOOP), "images", "-o", "json"], capture_output=True, timeout=30)
    return [i for i in json.loads(out.stdout)["images"] if any("demo/app" in r for r in i["references"])] \
        if out.returncode == 0 else []


def test_make_run_shows_two_images_and_their_diff(bpf_ready: None, tmp_path: Path) -> None:
    require(not SOCKET.exists(), f"a container runtime already serves {SOCKET}: not a bare machine")
    require(all(port_free(p) for p in PORTS), f"ports {PORTS} are taken")
    log = tmp_path / "run.log"
    started = time.monotonic()
    run = start_run(tmp_path, log)
    try:

        def diffed() -> dict | None:
            assert run.poll() is None, log.read_text()[-3000:]
            answer = subprocess.run([str(SNOOP), "diff", "demo/app:1", "demo/app:2", "-o", "json"],
                                    capture_output=True, timeout=30)
            found = json.loads(answer.stdout) if answer.returncode == 0 else {}
            return found if {"/app/config.yaml", "/app/templates/index.html"} <= set(found.get("added", [])) else None

        diff = eventually(diffed, timeout_s=60, every_s=1, what=lambda: log.read_text()[-3000:])
        print(f"two images and their diff after {time.monotonic() - started:.0f} s")
        assert {"/app/config.json", "/app/legacy/report.txt"} <= set(diff["removed"])
        assert "/app/unused/big.bin" not in diff["added"] + diff["removed"] + diff["common"]
        # The hints come once the sample reports are stored.
        eventually(lambda: "snoop vulns demo/app:2" in log.read_text(), timeout_s=40, every_s=0.5,
                   what=lambda: log.read_text())
        printed = log.read_text()
        assert "snoop diff demo/app:1 demo/app:2" in printed and "snoop vulns demo/app:2" in printed, printed
        assert len(printed.splitlines()) < 40 and "GET /" not in printed  # one line a step, no access log
        page = httpx.get("http://127.0.0.1:8080/", timeout=10).text
        assert "docker.io/demo/app:1" in page and "docker.io/demo/app:2" in page
        workloads = subprocess.run([str(SNOOP), "workloads", "-n", "demo", "-o", "json"], capture_output=True)
        assert {w["kind"] for w in json.loads(workloads.stdout)["workloads"]} == {"Deployment?"}  # guessed by name

        def inventoried() -> dict[str, bool]:  # the demo's packages, once the agent has inventoried the image
            packages = subprocess.run([str(SNOOP), "packages", "demo/app:2", "-o", "json"], capture_output=True)
            return {p["name"]: p["used"] for p in json.loads(packages.stdout or b"{}").get("packages", [])}

        found = eventually(inventoried, timeout_s=60, every_s=1, what="the demo image's packages")
        assert found == {"busybox-static": True, "demo-app": True, "demo-assets": False}
        vulns = json.loads(subprocess.run([str(SNOOP), "vulns", "demo/app:2", "-o", "json"],
                                          capture_output=True).stdout)
        assert {e["id"] for e in vulns["in_use"]} == {"SAMPLE-2026-0001", "SAMPLE-2026-0003"}
        assert {e["id"] for e in vulns["not_in_use"]} == {"SAMPLE-2026-0002"}
    finally:
        interrupt(run)
    assert re.search(r"demo: removed [2-9]\d* pods", log.read_text())  # 2, and any a killed run left
    assert_nothing_left()

    again = start_run(tmp_path, log)  # the same data directory: the same images, one row each
    try:

        def both_runs() -> list[dict] | None:  # each image's pod of this run seen beside the first run's
            rows = demo_rows()
            return rows if rows and all(i["containers"] == 2 for i in rows) else None

        rows = eventually(both_runs, timeout_s=60, every_s=1, what=lambda: f"{demo_rows()}")
        assert len(rows) == 2, rows
    finally:
        interrupt(again)
    assert_nothing_left()
