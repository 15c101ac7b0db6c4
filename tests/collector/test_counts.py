"""Per-image counts of merged rows by type (0011): kept by the database's triggers, they must equal a count of
``image_files`` after whatever writes it — new files, replays, retyped files, concurrent agents, an image's
removal, and a database migrated with rows already stored."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import alembic_config, upgrade
from snoop.collector.storage.models import Image, ImageFile, ImageFileCount
from snoop.collector.storage.retention import remove_image
from snoop.collector.storage.write import ingest
from snoop.common.file_types import DIR, FILE, RUNTIME, SYMLINK, UNKNOWN
from tests.collector.conftest import container


def counted(sessions: sessionmaker[Session]) -> dict[tuple[int, int], int]:
    """What a count of the merged rows gives, without the counts table."""
    with sessions() as s:
        return {(i, t): n for i, t, n in s.execute(
            select(ImageFile.image_id, ImageFile.file_type, func.count()).group_by(ImageFile.image_id,
                                                                                  ImageFile.file_type))}


def kept(sessions: sessionmaker[Session]) -> dict[tuple[int, int], int]:
    """What the triggers kept; types with no rows left are left out."""
    with sessions() as s:
        return {(i, t): n for i, t, n in s.execute(
            select(ImageFileCount.image_id, ImageFileCount.file_type, ImageFileCount.files)) if n}


def seen(sessions: sessionmaker[Session], cid: str, digest: str, files: dict[bytes, int],
         node: str = "node-a") -> None:
    """``files``: path -> its type as this container reports it."""
    with sessions.begin() as s:
        ingest(s, [container(cid, node=node, digest=digest, pod=f"pod-{cid}", files=dict.fromkeys(files, 1),
                             types=files)], now_ns=10**18)


def test_counts_follow_new_replayed_and_retyped_files(sessions: sessionmaker[Session]) -> None:
    seen(sessions, "a", "sha256:aaa", {b"/bin/sh": FILE, b"/etc": DIR, b"/lib/x": UNKNOWN, b"/etc/hosts": RUNTIME})
    assert kept(sessions) == counted(sessions)
    seen(sessions, "a", "sha256:aaa", {b"/bin/sh": FILE, b"/etc": DIR})        # a replay: nothing moves
    seen(sessions, "b", "sha256:aaa", {b"/bin/sh": FILE, b"/lib/x": SYMLINK})  # retyped by a new instance
    seen(sessions, "a", "sha256:aaa", {b"/lib/x": SYMLINK, b"/var": DIR})      # retyped by a known one
    seen(sessions, "c", "sha256:bbb", {b"/bin/sh": UNKNOWN, b"/lib/x": FILE})  # another image's own rows
    counts = counted(sessions)
    assert kept(sessions) == counts
    with sessions() as s:
        aaa = s.scalar(select(Image.id).where(Image.digest == "sha256:aaa"))
    assert {t: n for (i, t), n in counts.items() if i == aaa} == {FILE: 1, DIR: 2, SYMLINK: 1, RUNTIME: 1}


def test_counts_hold_under_concurrent_agents(sessions: sessionmaker[Session]) -> None:
    """Four nodes send overlapping files of one image at once, some typed better than others saw them."""
    paths = [f"/usr/lib/f{i}".encode() for i in range(300)]
    sent = [[{p: rng.choice((UNKNOWN, FILE, SYMLINK)) for p in rng.sample(paths, 100)} for _ in range(8)]
            for rng in (random.Random(node) for node in range(4))]

    def agent(node: int) -> None:
        for n, files in enumerate(sent[node]):
            seen(sessions, f"{node}-{n}", "sha256:aaa", files, node=f"node-{node}")

    threads = [threading.Thread(target=agent, args=(node,)) for node in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    best: dict[bytes, int] = {}  # each path's type: the highest any container reported
    for files in (f for node in sent for f in node):
        for p, t in files.items():
            best[p] = max(best.get(p, UNKNOWN), t)
    assert sorted(kept(sessions).values()) == sorted(Counter(best.values()).values())
    assert kept(sessions) == counted(sessions)


def test_a_removed_image_takes_its_counts(sessions: sessionmaker[Session]) -> None:
    seen(sessions, "a", "sha256:aaa", {b"/bin/sh": FILE})
    seen(sessions, "b", "sha256:bbb", {b"/bin/sh": FILE, b"/etc": DIR})
    with sessions.begin() as s:
        remove_image(s, s.scalars(select(Image.id).where(Image.digest == "sha256:aaa")).one())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ImageFileCount)) == 2  # bbb's file and directory
    assert kept(sessions) == counted(sessions)


def test_the_migration_counts_what_was_stored(db_url: str) -> None:
    """Rows stored before 0011 (written at head, then migrated down: what ingest writes now is what 0011
    finds) are counted by it, and its downgrade leaves no trigger to fire on a missing table."""
    engine = make_engine(db_url)
    config = alembic_config()

    def migrate(step: Callable[[Config, str], None], revision: str) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        seen(sessions, "a", "sha256:aaa", {b"/bin/sh": FILE, b"/etc": DIR, b"/lib/x": SYMLINK})
        seen(sessions, "b", "sha256:bbb", {b"/bin/sh": FILE})
        migrate(command.downgrade, "0010")
        migrate(command.upgrade, "0011")
        assert kept(sessions) == counted(sessions) != {}
        migrate(command.upgrade, "head")
        seen(sessions, "c", "sha256:aaa", {b"/bin/sh": FILE, b"/usr": DIR})  # and the triggers go on from there
        assert kept(sessions) == counted(sessions)
        migrate(command.downgrade, "0010")
        with engine.begin() as connection:  # no trigger is left to fire on a missing table
            connection.execute(text("UPDATE image_files SET file_type = :t"), {"t": UNKNOWN})
            connection.execute(text("DELETE FROM image_files"))
    finally:
        engine.dispose()
