"""Inventory uploads over a real socket, on both databases: only the lease holder's chunks are taken, a
superseded upload is never told it completed, and leases stay bounded whatever is asked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy.orm import Session, sessionmaker

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from snoop.collector.config import CollectorConfig
from snoop.collector.grpc.leases import PER_AGENT, Leases
from snoop.collector.grpc.server import build_server
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.reports.contents import inventory_of
from snoop.collector.reports.images import find_image
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc
from tests.collector.test_inventory import small_image

DIGEST = "sha256:" + "ab" * 32
HOLDER, INTRUDER = "node-1/inventory", "node-2/inventory"


@pytest.fixture
def served(sessions: sessionmaker[Session]) -> Iterator[tuple[pb_grpc.InventoryStub, CollectorMetrics]]:
    metrics = CollectorMetrics()
    srv, port = build_server(CollectorConfig(grpc_listen=("127.0.0.1", 0)), sessions, metrics)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.InventoryStub(channel), metrics
    srv.stop(0)


def chunks(root: Path, agent: str, files: int = 3) -> list[pb.InventoryChunk]:
    return list(inventory_chunks(ImageTree([os.fsencode(root)]), Upload(agent, DIGEST, "app:1", "layers"),
                                 chunk_files=files))


def refused(metrics: CollectorMetrics, reason: str) -> float:
    return metrics.registry.get_sample_value("snoop_inventory_errors_total", {"reason": reason}) or 0.0


def test_only_the_lease_holder_uploads(served: tuple[pb_grpc.InventoryStub, CollectorMetrics],
                                       sessions: sessionmaker[Session], tmp_path: Path) -> None:
    stub, metrics = served
    assert list(stub.Wanted(pb.WantedRequest(agent_id=HOLDER, image_digests=[DIGEST])).image_digests) == [DIGEST]
    mine = chunks(small_image(tmp_path / "img"), HOLDER)
    assert stub.Put(mine[0]).error == ""

    (tmp_path / "one").mkdir()
    (tmp_path / "one/only").write_bytes(b"x")
    forged = [stub.Put(c) for c in chunks(tmp_path / "one", INTRUDER)]  # a one-file inventory, then done
    assert [(a.complete, a.error.split(":")[0]) for a in forged] == [(False, "not-lease-holder")] * 2
    assert refused(metrics, "not-lease-holder") == 2

    acks = [stub.Put(c) for c in mine[1:]]
    assert [a.error for a in acks] == [""] * len(acks) and acks[-1].complete
    with sessions() as s:
        image = find_image(s, DIGEST)
        assert image is not None
        inventory = inventory_of(s, image)
        assert inventory is not None and inventory.files == 9 and inventory.agent_id == HOLDER


def test_leases_are_bounded() -> None:
    now = [0.0]
    leases = Leases(clock=lambda: now[0], lease_s=10, per_agent=3, total=5)
    assert leases.grant("a", ["sha256:c1", "latest", "sha256:" + "0" * 63]) == []  # malformed: none kept
    made_up = [f"sha256:{n:064x}" for n in range(1000)]
    assert leases.grant("a", made_up) == made_up[:3]
    assert leases.grant("b", made_up) == made_up[3:5]  # the total (5) is reached
    assert leases.grant("c", made_up) == []
    assert len(leases) == 5
    assert leases.refusal("c", made_up[0]) is not None and leases.refusal("a", made_up[0]) is None
    now[0] = 11.0  # every lease lapsed: dropped as new ones are asked for
    assert leases.grant("c", made_up) == made_up[:3]
    assert len(leases) == 3


def test_wanted_leases_stay_bounded_over_grpc(served: tuple[pb_grpc.InventoryStub, CollectorMetrics]) -> None:
    """30 requests of 1,000 made-up digests: each agent holds at most PER_AGENT, nothing malformed."""
    stub, _ = served
    granted: dict[str, int] = {}
    for n in range(30):
        asked = [f"sha256:{n * 1000 + i:064x}" for i in range(1000)] + ["nonsense", "sha256:c1"]
        agent = f"agent-{n % 3}"
        got = stub.Wanted(pb.WantedRequest(agent_id=agent, image_digests=asked)).image_digests
        assert "nonsense" not in got and "sha256:c1" not in got
        granted[agent] = granted.get(agent, 0) + len(got)
    assert granted == {f"agent-{n}": PER_AGENT for n in range(3)}
