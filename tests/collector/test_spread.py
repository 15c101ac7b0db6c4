"""On how many nodes each merged path was used (``image_files.nodes``, 0012): kept by ingest, it must equal a
count of distinct nodes over the instances that used the path — after replays, two instances of one node in a
batch, concurrent agents, and in a database migrated with rows; retention counts out the nodes left with no
instance of the image, and only those."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter

from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import alembic_config, upgrade
from snoop.collector.storage.models import ContainerInstance, Image, ImageFile, ImageNodePath, InstanceFile, Path
from snoop.collector.storage.retention import Retention
from snoop.collector.storage.spread import node_key
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container

DAY = 86400 * 10**9
TODAY = 400


def seen(sessions: sessionmaker[Session], *containers: tuple[str, str, str, list[bytes]], day: int = TODAY) -> None:
    """One batch of (container id, node, image digest, paths)."""
    with sessions.begin() as s:
        ingest(s, [container(cid, node=node, digest=digest, pod=f"pod-{cid}", files=dict.fromkeys(paths, 1))
                   for cid, node, digest, paths in containers], now_ns=day * DAY)


def counted(sessions: sessionmaker[Session]) -> dict[tuple[str, bytes], int]:
    """(image, path) -> distinct nodes of its kept instances that used it, counted over the instances."""
    with sessions() as s:
        return {(d, p): n for d, p, n in s.execute(
            select(Image.digest, Path.path, func.count(func.distinct(ContainerInstance.node)))
            .join(ContainerInstance, ContainerInstance.image_id == Image.id)
            .join(InstanceFile, InstanceFile.of(ContainerInstance)).join(Path, Path.id == InstanceFile.path_id)
            .group_by(Image.digest, Path.path))}


def kept(sessions: sessionmaker[Session]) -> dict[tuple[str, bytes], int]:
    """What the merged rows say (paths on no node left out), checked against the rows behind them: each
    (image, node, path) of a kept instance is there, and no (image, node) without a kept instance, and
    each merged row counts its rows."""
    with sessions() as s:
        rows = set(s.execute(select(ImageNodePath.image_id, ImageNodePath.node_key, ImageNodePath.path_id)))
        used = {(i, node_key(node), p) for i, node, p in s.execute(
            select(ContainerInstance.image_id, ContainerInstance.node, InstanceFile.path_id)
            .join(InstanceFile, InstanceFile.of(ContainerInstance)))}
        running = {(i, node_key(node)) for i, node in s.execute(
            select(ContainerInstance.image_id, ContainerInstance.node))}
        assert used <= rows and {(i, k) for i, k, _ in rows} <= running
        per_path = Counter((i, p) for i, _, p in rows)
        assert per_path == {(i, p): n for i, p, n in s.execute(
            select(ImageFile.image_id, ImageFile.path_id, ImageFile.nodes)) if n}
        return {(d, p): n for d, p, n in s.execute(
            select(Image.digest, Path.path, ImageFile.nodes).join(ImageFile, ImageFile.image_id == Image.id)
            .join(Path, Path.id == ImageFile.path_id)) if n}


def test_nodes_follow_ingest(sessions: sessionmaker[Session]) -> None:
    seen(sessions, ("a", "node-1", "sha256:aaa", [b"/a", b"/b"]))
    seen(sessions, ("b", "node-1", "sha256:aaa", [b"/b", b"/c"]), ("c", "node-2", "sha256:aaa", [b"/b"]))
    seen(sessions, ("a", "node-1", "sha256:aaa", [b"/a", b"/b", b"/c"]))  # a replay, and a known node's new file
    seen(sessions, ("d", "node-3", "sha256:aaa", [b"/d"]), ("e", "node-3", "sha256:aaa", [b"/d"]))  # one node twice
    seen(sessions, ("f", "node-1", "sha256:bbb", [b"/b"]))  # another image's own count
    assert kept(sessions) == counted(sessions) == {
        ("sha256:aaa", b"/a"): 1, ("sha256:aaa", b"/b"): 2, ("sha256:aaa", b"/c"): 1, ("sha256:aaa", b"/d"): 1,
        ("sha256:bbb", b"/b"): 1}


def test_nodes_hold_under_concurrent_agents(sessions: sessionmaker[Session]) -> None:
    """Four nodes send overlapping files of two images at once, two instances of each in some batches."""
    paths = [f"/usr/lib/f{i}".encode() for i in range(200)]

    def agent(node: int) -> None:
        rng = random.Random(node)
        for n in range(6):
            seen(sessions, *[(f"{node}-{n}-{k}", f"node-{node}", rng.choice(("sha256:aaa", "sha256:bbb")),
                              rng.sample(paths, 60)) for k in range(rng.randint(1, 2))])

    threads = [threading.Thread(target=agent, args=(node,)) for node in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = counted(sessions)
    assert kept(sessions) == counts and max(counts.values()) == 4


def test_retention_counts_out_the_nodes_left_without_the_image(sessions: sessionmaker[Session]) -> None:
    """A node whose instances of the image all expired counts no more; one that still runs it keeps counting
    for what its expired instances used, as ``containers`` does. On PostgreSQL the expired instances go with
    their day's partition, on SQLite one by one."""
    seen(sessions, ("old-1", "node-1", "sha256:aaa", [b"/a", b"/b"]), day=TODAY - 100)
    seen(sessions, ("old-2", "node-2", "sha256:aaa", [b"/a", b"/c"]), day=TODAY - 100)
    seen(sessions, ("gone", "node-1", "sha256:bbb", [b"/a"]), day=TODAY - 200)
    seen(sessions, ("new-1", "node-1", "sha256:aaa", [b"/b"]), ("new-3", "node-3", "sha256:aaa", [b"/c"]),
         day=TODAY - 1)
    assert kept(sessions)[("sha256:aaa", b"/a")] == 2
    removed = Retention(sessions, retain_instances_s=30 * 86400, retain_images_s=150 * 86400,
                        write_lock=contextlib.nullcontext()).run_once(now_ns=TODAY * DAY)
    assert (removed.instances, removed.images) == (3, 1)
    # node-1 still runs aaa: /a (old-1's) stays; node-2 runs it no more: /a and /c lose it; bbb went whole
    assert kept(sessions) == {("sha256:aaa", b"/a"): 1, ("sha256:aaa", b"/b"): 1, ("sha256:aaa", b"/c"): 1}


def test_retention_and_ingest_on_one_node_at_once(sessions: sessionmaker[Session]) -> None:
    """Retention forgets a node whose last instances of the image expired while that node's agent sends new
    ones: whichever goes first, the new instances' paths end up counted (on PostgreSQL both take the node's
    revision row before they look). Three rounds a hundred days apart, for three chances at the interleavings:
    each round's retention also removes the round before's new instances."""
    paths = [f"/lib/l{i}".encode() for i in range(40)]
    retention = Retention(sessions, retain_instances_s=30 * 86400, retain_images_s=0,
                          write_lock=contextlib.nullcontext())

    def agent(round_: int, day: int) -> None:
        for n in range(40):
            seen(sessions, (f"new-{round_}-{n}", "node-1", "sha256:aaa", paths[n % 30 : n % 30 + 10]), day=day)

    for round_ in range(3):
        day = TODAY + 100 * round_
        for n in range(60):
            seen(sessions, (f"old-{round_}-{n}", "node-1", "sha256:aaa", paths[n % 20 : n % 20 + 20]), day=day - 100)
        sending = threading.Thread(target=agent, args=(round_, day))
        sending.start()
        removed = retention.run_once(now_ns=day * DAY)
        sending.join()
        assert removed.instances == 60 + (40 if round_ else 0)
        assert kept(sessions) == counted(sessions) == {("sha256:aaa", p): 1 for p in paths[:39]}


def test_the_migration_counts_the_nodes_of_what_was_stored(db_url: str) -> None:
    """Rows written at head, migrated down to before 0012 and up again: its count equals ingest's."""
    engine = make_engine(db_url)
    config = alembic_config()
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        seen(sessions, ("a", "node-1", "sha256:aaa", [b"/a", b"/b"]), ("b", "node-2", "sha256:aaa", [b"/b"]))
        seen(sessions, ("c", "node-2", "sha256:bbb", [b"/b"]), ("d", "node-2", "sha256:aaa", [b"/a"]),
             day=TODAY + 1)
        before = kept(sessions)
        for step, revision in ((command.downgrade, "0011"), (command.upgrade, "head")):
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                step(config, revision)
        assert kept(sessions) == before == counted(sessions) != {}
    finally:
        engine.dispose()
