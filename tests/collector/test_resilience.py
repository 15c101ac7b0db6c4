"""A database that goes away and comes back: nothing lost, readiness tells, no restart needed."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from snoop.agent.streamer import Streamer
from snoop.collector.app import create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from snoop.v1 import snoop_pb2 as pb
from tests.conftest import free_port
from tests.harness.postgres import Postgres

pytestmark = pytest.mark.postgres


def files_batch(*paths: bytes) -> list[pb.ContainerFiles]:
    container = pb.Container(node="n1", container_id="c1", image_digest="sha256:abc")
    return [pb.ContainerFiles(container=container, files=[pb.FileAccess(path=p, kinds=1) for p in paths])]


def test_database_restart_loses_nothing(postgres: Postgres) -> None:
    port = free_port()
    app = create_app(CollectorConfig(db_url=postgres.new_database(), grpc_listen=("127.0.0.1", port)))
    streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=1000, backoff_max_s=0.5)
    with TestClient(app) as client:
        streamer.start()
        try:
            streamer.submit(files_batch(b"/before"), dropped_events=0)
            assert streamer.drain(timeout_s=15)

            postgres.pause()
            try:
                assert client.get("/readyz").status_code == 503
                streamer.submit(files_batch(b"/during"), dropped_events=0)
                time.sleep(1.5)  # refused with UNAVAILABLE, kept in the spool
                assert streamer.spool_files == 1
            finally:
                postgres.resume()

            assert streamer.drain(timeout_s=30)
            assert client.get("/readyz").status_code == 200
            with app.state.sessions() as s:
                image = find_image(s, "sha256:abc")
                assert image is not None
                rows = image_files(s, image, FileFilter())
            assert {r[0] for r in rows} == {b"/before", b"/during"}
            assert 'reason="database"' in client.get("/metrics").text
        finally:
            streamer.close()


def test_database_stopped_and_started_under_ingest_loses_nothing(postgres: Postgres) -> None:
    """Batches keep coming while PostgreSQL stops (fast shutdown: sessions cut mid-transaction) and starts
    again: every file of every batch is stored once, and the collector never needed a restart."""
    port = free_port()
    app = create_app(CollectorConfig(db_url=postgres.new_database(), grpc_listen=("127.0.0.1", port)))
    streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=100_000, backoff_max_s=0.5)
    sent: set[bytes] = set()
    with TestClient(app) as client:
        streamer.start()
        try:
            for i in range(60):
                paths = [b"/flow/%d/%d" % (i, j) for j in range(50)]
                streamer.submit(files_batch(*paths), dropped_events=0)
                sent.update(paths)
                if i == 20:
                    postgres.pause()
                if i == 40:
                    postgres.resume()
                time.sleep(0.05)
            assert streamer.drain(timeout_s=60)
            with app.state.sessions() as s:
                image = find_image(s, "sha256:abc")
                assert image is not None
                rows = image_files(s, image, FileFilter())
            assert sorted(r[0] for r in rows) == sorted(sent)  # each once, none lost
            assert client.get("/readyz").status_code == 200
        finally:
            streamer.close()
