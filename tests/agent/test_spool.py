"""The disk spool as two agents on one node use it: side by side during a rolling update, one after the other."""

from __future__ import annotations

import os
from pathlib import Path

from snoop.agent.spool import DiskSpool
from snoop.v1 import snoop_pb2 as pb


def batch(seq: int, path: bytes) -> pb.Batch:
    return pb.Batch(agent_id="a", seq=seq, containers=[pb.ContainerFiles(files=[pb.FileAccess(path=path)])])


def paths(batches: list[pb.Batch]) -> list[bytes]:
    return [f.path for b in batches for c in b.containers for f in c.files]


def test_two_agents_side_by_side_then_the_new_one_adopts_what_the_old_one_left(tmp_path: Path) -> None:
    old = DiskSpool(tmp_path, token="old")
    old.save(1, batch(1, b"/etc/acked"))
    old.save(2, batch(2, b"/etc/unacked"))
    old.delete(1)
    new = DiskSpool(tmp_path, token="new")  # the rolling update's surge: both run, neither refused
    assert list(new.adopt()) == []           # the old one still holds its directory
    old.close()                              # it stops with one batch unacknowledged
    assert paths(list(new.adopt())) == [b"/etc/unacked"]
    assert not new.unclean_start
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]  # the old directory is gone once taken
    assert list(new.adopt()) == []
    new.close()
    assert list(tmp_path.iterdir()) == []


def test_a_killed_agents_batches_are_taken_and_its_death_noticed(tmp_path: Path) -> None:
    killed = DiskSpool(tmp_path, token="killed")
    killed.save(7, batch(7, b"/bin/sh"))
    (tmp_path / "killed" / ".8.tmp").write_bytes(b"half")  # a write cut short: never a batch
    (tmp_path / "killed" / "000000000009.batch").write_bytes(b"\xff\xff not protobuf")
    os.close(killed._lock)  # kill -9: the kernel drops the lock, nothing else happens
    after = DiskSpool(tmp_path, token="after")
    assert paths(list(after.adopt())) == [b"/bin/sh"]
    assert after.unclean_start
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["000000000009.batch"]  # unreadable: kept


def test_batches_an_older_agent_wrote_into_the_root_are_taken(tmp_path: Path) -> None:
    (tmp_path / "0a1b2c-000000000003.batch").write_bytes(batch(3, b"/usr/bin/python3").SerializeToString())
    (tmp_path / "running").touch()
    spool = DiskSpool(tmp_path, token="now")
    assert paths(list(spool.adopt())) == [b"/usr/bin/python3"] and spool.unclean_start
    assert sorted(p.name for p in tmp_path.iterdir()) == ["now"]
