"""The Ingest service over a real socket: acks, refusals that do not poison the stream, size limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.config import CollectorConfig
from snoop.collector.grpc.server import build_server
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc


def batch(seq: int, path: bytes, cid: str = "c1") -> pb.Batch:
    container = pb.Container(node="n1", container_id=cid, image_digest="sha256:abc", image_reference="app:1")
    return pb.Batch(agent_id="a", seq=seq, containers=[
        pb.ContainerFiles(container=container, files=[pb.FileAccess(path=path, kinds=1)], total_events=3)
    ])


@pytest.fixture
def server(sessions: sessionmaker[Session]) -> Iterator[str]:
    config = CollectorConfig(grpc_listen=("127.0.0.1", 0), max_message_bytes=64 * 1024,
                             stream_idle_timeout_s=2.0)
    srv, port = build_server(config, sessions, CollectorMetrics())
    yield f"127.0.0.1:{port}"
    srv.stop(0)


def test_stream_acks_each_batch_and_survives_a_bad_one(server: str, sessions: sessionmaker[Session]) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = pb_grpc.IngestStub(channel)
        acks = list(stub.Stream(iter([batch(1, b"/etc/a"), batch(2, b"relative"), batch(3, b"/etc/b", "c2"),
                                      batch(1, b"/etc/a")])))
    assert [a.seq for a in acks] == [1, 2, 3, 1]
    assert (acks[0].files_accepted, list(acks[0].refused)) == (1, [])
    assert [(r.reason, r.path, r.files) for r in acks[1].refused] == [("path-not-absolute", b"relative", 1)]
    assert (acks[2].files_accepted, list(acks[2].refused)) == (1, [])
    assert (acks[3].files_accepted, list(acks[3].refused)) == (0, [])  # a resend: idempotent
    with sessions() as s:
        image = find_image(s, "sha256:abc")
        assert image is not None
        rows = image_files(s, image, FileFilter())
        assert {path: n for path, n, *_ in rows} == {b"/etc/a": 1, b"/etc/b": 1}


def test_one_overlong_path_is_refused_alone(server: str, sessions: sessionmaker[Session]) -> None:
    """A path past PATH_MAX (a deep cwd joined to a long name) costs only itself: the other files of
    its container and of the other containers in the batch are stored."""
    innocent = pb.ContainerFiles(
        container=pb.Container(node="n1", container_id="innocent", image_digest="sha256:abc"),
        files=[pb.FileAccess(path=b"/data/%d" % i, kinds=1) for i in range(500)])
    deep = pb.ContainerFiles(
        container=pb.Container(node="n1", container_id="deep", image_digest="sha256:abc"),
        files=[pb.FileAccess(path=b"/d/" + b"x" * 4100, kinds=1), pb.FileAccess(path=b"/d/ok", kinds=1)])
    with grpc.insecure_channel(server) as channel:
        (ack,) = pb_grpc.IngestStub(channel).Stream(iter([pb.Batch(agent_id="a", seq=1, containers=[innocent, deep])]))
    assert ack.files_accepted == 501
    assert [(r.container_id, r.reason, r.files) for r in ack.refused] == [("deep", "path-too-long", 1)]


def test_oversized_message_gets_a_clear_status(server: str) -> None:
    big = batch(1, b"/" + b"x" * 100_000)
    with grpc.insecure_channel(server) as channel, pytest.raises(grpc.RpcError) as err:
        list(pb_grpc.IngestStub(channel).Stream(iter([big])))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_health_service(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service="snoop.v1.Ingest"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_concurrent_agents_sharing_new_paths(sessions: sessionmaker[Session]) -> None:
    """Four agents at once, every batch bringing paths the others are inserting too: no lost ids, no
    deadlocks, and every file counted once per instance."""
    from snoop.collector.grpc.ingest import IngestServicer

    servicer = IngestServicer(sessions, CollectorMetrics(), ThreadPoolExecutor(1))
    paths = [b"/shared/%d" % i for i in range(300)]

    def agent(k: int) -> list[pb.Ack]:
        acks = []
        for j in range(10):
            container = pb.Container(node=f"n{k}", container_id=f"c{k}-{j}", image_digest="sha256:abc")
            files = [pb.FileAccess(path=p, kinds=1) for p in paths[j * 20 : j * 20 + 100]]
            acks.append(servicer.write(pb.Batch(agent_id=f"a{k}", seq=j + 1, containers=[
                pb.ContainerFiles(container=container, files=files)])))
        return acks

    with ThreadPoolExecutor(4) as pool:
        acks = [a for result in pool.map(agent, range(4)) for a in result]
    assert all(not a.refused for a in acks) and sum(a.files_accepted for a in acks) == 40 * 100
    with sessions() as s:
        image = find_image(s, "sha256:abc")
        assert image is not None
        rows = image_files(s, image, FileFilter())
    counts = {path: n for path, n, *_ in rows}
    expected = {p: 4 * sum(1 for j in range(10) if j * 20 <= i < j * 20 + 100) for i, p in enumerate(paths)}
    assert counts == {p: n for p, n in expected.items() if n}


def test_undecodable_message_fails_its_stream_only(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        raw = channel.stream_stream("/snoop.v1.Ingest/Stream", request_serializer=None,
                                    response_deserializer=None)
        with pytest.raises(grpc.RpcError) as err:
            list(raw(iter([b"\xff\xfe not a protobuf \x00\x01"]), timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        acks = list(pb_grpc.IngestStub(channel).Stream(iter([batch(1, b"/etc/after")])))
    assert acks[0].files_accepted == 1


def test_hundreds_of_idle_agents_do_not_stall_ingest(server: str) -> None:
    """Each agent holds a stream for life. 300 open, quiet streams (a 300-node cluster on one replica),
    then one more agent with news: it is answered at once. (The thread-per-stream server stopped at 16.)"""
    channels = [grpc.insecure_channel(server) for _ in range(300)]
    quiet = threading.Event()
    try:
        def silence() -> Iterator[pb.Batch]:
            quiet.wait(30)
            return
            yield  # an iterator that sends nothing until released

        calls = [pb_grpc.IngestStub(c).Stream(silence()) for c in channels]
        time.sleep(1)  # every stream is open on the server
        with grpc.insecure_channel(server) as channel:
            (ack,) = pb_grpc.IngestStub(channel).Stream(iter([batch(1, b"/etc/news")]), timeout=10)
        assert ack.files_accepted == 1
    finally:
        quiet.set()
        for call in calls:
            call.cancel()
        for c in channels:
            c.close()


def test_a_quiet_stream_is_ended_after_the_idle_timeout(server: str) -> None:
    release = threading.Event()

    def quiet() -> Iterator[pb.Batch]:
        yield batch(1, b"/etc/first")
        release.wait(30)

    started = time.monotonic()
    with grpc.insecure_channel(server) as channel:
        acks = list(pb_grpc.IngestStub(channel).Stream(quiet(), timeout=20))  # ends cleanly, no error
    release.set()
    assert [a.seq for a in acks] == [1]
    assert 1.5 < time.monotonic() - started < 15


def test_messages_over_the_file_limit_are_refused_unread(sessions: sessionmaker[Session]) -> None:
    """Memory follows --max-message-files, not what a sender sends: a batch or an inventory chunk over it
    is refused whole with the reason, and nothing of it is stored."""
    config = CollectorConfig(grpc_listen=("127.0.0.1", 0), max_message_files=100)
    srv, port = build_server(config, sessions, CollectorMetrics())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            big = batch(1, b"/etc/0")
            big.containers[0].files.extend(pb.FileAccess(path=b"/etc/%d" % i, kinds=1) for i in range(1, 101))
            (ack,) = list(pb_grpc.IngestStub(channel).Stream(iter([big])))
            assert ack.files_accepted == 0 and [(r.reason, r.files) for r in ack.refused] == [("batch-too-large", 101)]
            assert "at most 100" in ack.refused[0].detail
            chunk = pb.InventoryChunk(agent_id="a", image_digest="sha256:" + "c" * 64, upload_id="u", index=0,
                                      files=[pb.InventoryFile(path=b"/f%d" % i, type=pb.FILE_TYPE_FILE)
                                             for i in range(101)])
            put = pb_grpc.InventoryStub(channel).Put(chunk)
            assert not put.complete and put.error.startswith("too-many-files")
        with sessions() as s:
            assert find_image(s, "sha256:abc") is None
    finally:
        srv.stop(0)
