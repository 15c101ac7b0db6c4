"""A diff's side (an image's keep-list) kept up to date from the rows added since it was read, and always equal
to reading it whole (``kept_paths``), whatever happened in between: new paths of every type, known paths retyped
into and out of the keep-list, containers of known files, a transaction still open when the side was read,
another image's removal, a VACUUM."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.reports import diff
from snoop.collector.reports.diff import Side, kept_paths, kept_side
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from snoop.collector.storage.models import PATH_KEY_BYTES, Image
from snoop.collector.storage.retention import remove_image
from snoop.collector.storage.write import ingest
from snoop.common.file_types import DIR, FILE, NAMES, RUNTIME, SYMLINK, UNKNOWN
from tests.collector.conftest import container


def write(sessions: sessionmaker[Session], cid: str, types: dict[bytes, int], digest: str = "sha256:aaa") -> None:
    with sessions.begin() as s:
        ingest(s, [container(cid, digest=digest, files=dict.fromkeys(types, 1), types=types)], now_ns=5)


def side(sessions: sessionmaker[Session], before: Side | None = None, digest: str = "sha256:aaa") -> Side:
    """The side brought up to date from ``before``, checked against a whole read in the same session."""
    with sessions() as s:
        image = s.scalars(select(Image).where(Image.digest == digest)).one()
        now = kept_side(s, image, before)
        assert now.paths == kept_paths(s, image)
        return now


@pytest.fixture
def caught_up(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each time a side was brought up to date: whether the rows added since sufficed (else: read whole)."""
    outcomes: list[bool] = []
    real = diff._caught_up

    def counted(*args: object) -> Side | None:
        result = real(*args)  # type: ignore[arg-type]
        outcomes.append(result is not None)
        return result

    monkeypatch.setattr(diff, "_caught_up", counted)
    return outcomes


def test_new_paths_are_taken_from_the_rows_added_since(sessions: sessionmaker[Session],
                                                        caught_up: list[bool]) -> None:
    long = b"/deep/" + b"d" * PATH_KEY_BYTES  # paths whose keys are cut: their order is the full path's
    write(sessions, "c1", {b"/bin/sh": FILE, b"/etc": DIR, b"/lib/x.so": SYMLINK, long + b"/b": FILE})
    first = side(sessions)
    write(sessions, "c2", {b"/bin/sh": FILE, b"/a/new": FILE, b"/z/new": UNKNOWN, b"/proc": RUNTIME, b"/m": DIR,
                           long + b"/a": FILE, b"/caf\xe9": FILE})
    now = side(sessions, first)
    assert [p for p, _ in now.paths] == [b"/a/new", b"/bin/sh", b"/caf\xe9", long + b"/a", long + b"/b",
                                         b"/lib/x.so", b"/z/new"]
    write(sessions, "c3", {b"/bin/sh": FILE, b"/etc": DIR})  # known files only: the counts did not move
    assert side(sessions, now).paths == now.paths
    assert caught_up == [True, True]


@pytest.mark.parametrize(("was", "becomes"), [(FILE, DIR), (DIR, SYMLINK), (UNKNOWN, FILE), (SYMLINK, RUNTIME)])
def test_a_known_path_retyped_makes_the_side_read_whole(sessions: sessionmaker[Session], caught_up: list[bool],
                                                         was: int, becomes: int) -> None:
    """Into the keep-list, out of it, or within it: each moves the counts in a way added rows cannot, also
    when a new path comes in the same transaction."""
    write(sessions, "c1", {b"/bin/sh": FILE, b"/x": was})
    first = side(sessions)
    write(sessions, "c2", {b"/x": becomes, b"/y": FILE})
    side(sessions, first)
    assert caught_up == [False], NAMES[was] + " -> " + NAMES[becomes]


def test_any_history_of_changes_leaves_the_side_equal_to_a_whole_read(sessions: sessionmaker[Session],
                                                                       caught_up: list[bool]) -> None:
    """Sixty rounds of random changes to two images (new paths of any type, known ones retyped upwards,
    containers of known files), each image's side brought up to date after each round."""
    rng = random.Random(28)
    known: dict[str, dict[bytes, int]] = {"sha256:aaa": {}, "sha256:bbb": {}}
    sides: dict[str, Side | None] = dict.fromkeys(known)
    for round_ in range(60):
        digest = rng.choice(list(known))
        files = known[digest]
        types = {b"/p/%03d" % rng.randrange(300): rng.choice([UNKNOWN, FILE, DIR, SYMLINK, RUNTIME])
                 for _ in range(rng.randrange(1, 6))}
        if files and rng.random() < 0.3:  # a known path seen as something better known
            path = rng.choice(list(files))
            types[path] = min(files[path] + rng.randrange(1, 3), RUNTIME)
        types = {p: max(t, files.get(p, t)) for p, t in types.items()}
        files.update(types)
        write(sessions, f"c{round_}", types, digest)
        for d in known:
            if known[d]:
                sides[d] = side(sessions, sides[d], d)
    assert caught_up.count(True) > caught_up.count(False) > 0


def test_a_path_added_by_a_transaction_open_while_the_side_was_read(sessions: sessionmaker[Session],
                                                                     caught_up: list[bool]) -> None:
    """Not seen by the read, committed after it (on PostgreSQL with a transaction id below the read's
    newest): the next side has it, from the rows added since."""
    write(sessions, "c1", {b"/bin/sh": FILE})
    with sessions.begin() as open_one:
        ingest(open_one, [container("c2", files={b"/late": 1}, types={b"/late": FILE})], now_ns=5)
        if sessions.kw["bind"].dialect.name == "postgresql":  # SQLite takes one writer at a time
            write(sessions, "c3", {b"/other": FILE}, "sha256:bbb")  # a later transaction, committed first
        first = side(sessions)
        assert b"/late" not in [p for p, _ in first.paths]
    assert b"/late" in [p for p, _ in side(sessions, first).paths]
    assert caught_up == [True]


def test_after_another_images_removal_and_a_vacuum(tmp_path: Path) -> None:
    """SQLite only (a VACUUM may number a table's rows again): another image removed, the file vacuumed, then
    new rows, which may take rowids at or under the side's last one."""
    engine = make_engine(f"sqlite:///{tmp_path}/snoop.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    for n in range(3):
        write(sessions, f"a{n}", {b"/a/%d" % i: FILE for i in range(n * 10, n * 10 + 10)})
        write(sessions, f"b{n}", {b"/b/%d" % i: FILE for i in range(n * 10, n * 10 + 10)}, "sha256:bbb")
    first = side(sessions)
    with sessions.begin() as s:
        remove_image(s, s.scalars(select(Image.id).where(Image.digest == "sha256:bbb")).one())
    with engine.connect() as conn:
        conn.execute(text("VACUUM"))
    write(sessions, "a9", {b"/a/new": FILE, b"/a/0": FILE})
    assert b"/a/new" in [p for p, _ in side(sessions, first).paths]
    engine.dispose()
