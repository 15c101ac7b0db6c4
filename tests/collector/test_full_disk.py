"""A database on a full disk: batches are refused as "resend", kept by the agent, and stored once there is room."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from snoop.agent.streamer import Streamer
from snoop.collector.app import create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from tests.collector.test_resilience import files_batch
from tests.conftest import free_port, require


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a real filesystem that runs out of space."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "snoop-full-disk", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Writes until the filesystem says ENOSPC."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_a_full_disk_refuses_batches_for_resending_and_loses_none(small_disk: Path) -> None:
    port = free_port()
    app = create_app(CollectorConfig(db_url=f"sqlite:///{small_disk}/snoop.db", grpc_listen=("127.0.0.1", port)))
    streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=100_000, backoff_max_s=0.5)
    with TestClient(app) as client:
        streamer.start()
        try:
            streamer.submit(files_batch(b"/before"), dropped_events=0)
            assert streamer.drain(timeout_s=15)
            fill(small_disk / "filler")
            big = [b"/during/" + b"x" * 200 + b"%d" % i for i in range(5000)]  # more than the disk holds
            streamer.submit(files_batch(*big), dropped_events=0)
            assert not streamer.drain(timeout_s=3)  # refused: "resend", kept by the agent
            assert streamer.spool_files == len(big)
            assert 'snoop_ingest_errors_total{reason="database"}' in client.get("/metrics").text
            (small_disk / "filler").unlink()
            assert streamer.drain(timeout_s=30)
            with app.state.sessions() as s:
                image = find_image(s, "sha256:abc")
                assert image is not None
                stored = {r[0] for r in image_files(s, image, FileFilter())}
            assert stored == {b"/before", *big}
        finally:
            streamer.close()
