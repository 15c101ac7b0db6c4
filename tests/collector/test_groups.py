"""Group commit: batches waiting for SQLite's one writer are committed together, each answered alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event

from snoop.collector.grpc.groups import CommitGroups
from snoop.collector.grpc.ingest import IngestServicer
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from snoop.v1 import snoop_pb2 as pb
from tests.conftest import eventually


def queued(groups: CommitGroups, lock: threading.Lock, works: list[str]) -> list[int | ValueError]:
    """Every work submitted while ``lock`` is held, then the lock let go: their results or errors."""
    with ThreadPoolExecutor(len(works)) as pool:
        with lock:
            futures = [pool.submit(groups.commit, w) for w in works]
            eventually(lambda: groups.waiting == len(works), every_s=0.005, what="the works queued")
        out: list[int | ValueError] = []
        for f in futures:
            try:
                out.append(f.result(timeout=10))
            except ValueError as exc:
                out.append(exc)
    return out


def test_batches_waiting_for_the_writer_share_one_transaction() -> None:
    lock = threading.Lock()
    groups_written: list[list[str]] = []

    def write(works: list[str]) -> list[int]:
        groups_written.append(works)
        return [len(w) for w in works]

    groups = CommitGroups(lock, write, lambda w: pytest.fail("a group is written whole"))
    assert queued(groups, lock, ["a", "bb", "ccc"]) == [1, 2, 3]
    assert [sorted(g) for g in groups_written] == [["a", "bb", "ccc"]]


def test_a_batch_the_database_refuses_fails_alone() -> None:
    lock = threading.Lock()

    def write(works: list[str]) -> list[int]:
        if "bad" in works:
            raise ValueError("refused")
        return [len(w) for w in works]

    def alone(work: str) -> int:
        return write([work])[0]

    results = queued(CommitGroups(lock, write, alone), lock, ["ok", "bad", "fine"])
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], ValueError)


def test_sqlite_commits_waiting_batches_once(tmp_path: Path) -> None:
    """(PostgreSQL takes concurrent writers, each committing its own.)"""
    engine = make_engine(f"sqlite:///{tmp_path}/snoop.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    lock = threading.Lock()
    servicer = IngestServicer(sessions, CollectorMetrics(), ThreadPoolExecutor(1), write_lock=lock)

    def batch(k: int) -> pb.Batch:
        container = pb.Container(node="n1", container_id=f"c{k}", image_digest="sha256:abc")
        files = [pb.FileAccess(path=b"/f/%d/%d" % (k, i), kinds=1) for i in range(50)]
        return pb.Batch(agent_id=f"a{k}", seq=1, containers=[pb.ContainerFiles(container=container, files=files)])

    with ThreadPoolExecutor(4) as pool:
        with lock:
            acks = [pool.submit(servicer.write, batch(k)) for k in range(4)]
            eventually(lambda: servicer.waiting_batches == 4, every_s=0.005, what="the batches queued")
        assert [a.result(timeout=30).files_accepted for a in acks] == [50] * 4
    assert len(commits) == 1
    engine.dispose()
