"""At-least-once delivery to a real collector socket: down at first, restarted mid-way, nothing lost."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session, sessionmaker

from snoop.agent.streamer import Streamer
from snoop.collector.config import CollectorConfig
from snoop.collector.grpc.server import build_server
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from snoop.v1 import snoop_pb2 as pb
from tests.conftest import free_port


def files_batch(cid: str, *paths: bytes) -> list[pb.ContainerFiles]:
    container = pb.Container(node="n1", container_id=cid, image_digest="sha256:abc")
    return [pb.ContainerFiles(container=container, files=[pb.FileAccess(path=p, kinds=1) for p in paths])]


def stored(sessions: sessionmaker[Session]) -> set[bytes]:
    with sessions() as s:
        image = find_image(s, "sha256:abc")
        return set() if image is None else {r[0] for r in image_files(s, image, FileFilter())}


def test_spooled_while_collector_down_then_delivered(sessions: sessionmaker[Session]) -> None:
    port = free_port()
    streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=1000, backoff_max_s=0.2)
    streamer.start()
    streamer.submit(files_batch("c1", b"/a", b"/b"), dropped_events=0)
    streamer.submit(files_batch("c1", b"/c"), dropped_events=0)
    time.sleep(0.5)
    assert streamer.spool_files == 3 and not streamer.connected

    config = CollectorConfig(grpc_listen=("127.0.0.1", port))
    server, _ = build_server(config, sessions, CollectorMetrics())
    try:
        assert streamer.drain(timeout_s=15)
        assert stored(sessions) == {b"/a", b"/b", b"/c"}
        server.stop(0).wait()  # the collector restarts: batches meanwhile wait in the spool
        streamer.submit(files_batch("c1", b"/d"), dropped_events=0)
        time.sleep(0.5)
        assert streamer.spool_files == 1
        server, _ = build_server(config, sessions, CollectorMetrics())
        assert streamer.drain(timeout_s=15)
        assert stored(sessions) == {b"/a", b"/b", b"/c", b"/d"}
    finally:
        streamer.close()
        server.stop(0)


def test_spool_bound_drops_oldest_and_counts() -> None:
    streamer = Streamer("127.0.0.1:1", agent_id="t", max_spool_files=3)
    streamer.submit(files_batch("c1", b"/a", b"/b"), dropped_events=0)
    streamer.submit(files_batch("c1", b"/c", b"/d"), dropped_events=0)
    assert (streamer.spool_files, streamer.dropped_files) == (2, 2)


def test_refused_files_are_counted_by_reason_and_their_neighbours_stored(sessions: sessionmaker[Session]) -> None:
    """A path past PATH_MAX (a 4,020-byte cwd joined to a name) is refused alone; the agent counts it."""
    config = CollectorConfig(grpc_listen=("127.0.0.1", 0))
    server, port = build_server(config, sessions, CollectorMetrics())
    streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=1000)
    streamer.start()
    try:
        deep = b"/" + b"d" * 4020 + b"/name-that-crosses-path-max-" + b"x" * 60
        streamer.submit(files_batch("c1", b"/innocent", deep) + files_batch("c2", b"/neighbour"), dropped_events=0)
        assert streamer.drain(timeout_s=15)
        assert dict(streamer.refused_files) == {"path-too-long": 1}
        assert stored(sessions) == {b"/innocent", b"/neighbour"}
        assert streamer.connected  # the collector answered on this stream
    finally:
        streamer.close()
        server.stop(0)
