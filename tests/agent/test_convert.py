"""Batches are cut at --max-batch-files; nothing is lost or repeated at the cuts."""

from __future__ import annotations

from snoop.agent.convert import split_batches
from snoop.v1 import snoop_pb2 as pb


def containers(*sizes: int) -> list[pb.ContainerFiles]:
    return [pb.ContainerFiles(container=pb.Container(container_id=f"c{i}"), total_events=7,
                              files=[pb.FileAccess(path=b"/c%d/%d" % (i, j), kinds=1) for j in range(n)])
            for i, n in enumerate(sizes)]


def test_batches_hold_at_most_the_cap_and_every_file_once() -> None:
    given = containers(2500, 10, 0, 7490, 1)
    batches = split_batches(given, 1000)
    assert all(sum(len(c.files) for c in b) <= 1000 for b in batches)
    assert len(batches) == 11  # 10,001 files
    sent = [(c.container.container_id, f.path) for b in batches for c in b for f in c.files]
    assert sent == [(c.container.container_id, f.path) for c in given for f in c.files]
    assert all(c.total_events == 7 for b in batches for c in b)


def test_small_deltas_stay_one_batch() -> None:
    assert [len(b) for b in split_batches(containers(3, 4), 10_000)] == [2]
    assert split_batches(containers(1000), 1000) == [containers(1000)]
