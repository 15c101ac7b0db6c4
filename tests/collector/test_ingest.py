from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import find_image, image_files
from snoop.collector.storage.known import KnownIds
from snoop.collector.storage.models import InstanceFile
from snoop.collector.storage.write import ingest, screen
from tests.collector.conftest import container

R, W, X = 1, 2, 4


def merged(session: Session, digest: str) -> dict[bytes, tuple[int, int]]:
    image = find_image(session, digest)
    assert image is not None
    rows = image_files(session, image, FileFilter())
    return {path: (n, kinds) for path, n, kinds, *_ in rows}


def test_replayed_batch_changes_nothing(sessions: sessionmaker[Session]) -> None:
    batch = [container("c1", files={b"/bin/sh": X, b"/etc/passwd": R})]
    with sessions.begin() as s:
        assert ingest(s, batch, now_ns=1).accepted == 2
    with sessions.begin() as s:
        assert ingest(s, batch, now_ns=2).accepted == 0
    with sessions() as s:
        assert merged(s, "sha256:aaa") == {b"/bin/sh": (1, X), b"/etc/passwd": (1, R)}
        assert s.scalar(select(func.count()).select_from(InstanceFile)) == 2


def test_merge_counts_instances_and_unites_kinds(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        ingest(s, [container("c1", files={b"/etc/app.conf": R})], now_ns=1)
        ingest(s, [container("c2", node="node-b", files={b"/etc/app.conf": W, b"/tmp/x": W})], now_ns=2)
        ingest(s, [container("c1", files={b"/etc/app.conf": R | X})], now_ns=3)  # new kind, same instance
    with sessions() as s:
        assert merged(s, "sha256:aaa") == {b"/etc/app.conf": (2, R | W | X), b"/tmp/x": (1, W)}


def test_same_path_twice_in_one_batch_is_one_row(sessions: sessionmaker[Session]) -> None:
    c = container("c1", files={b"/a": R})
    twice = type(c)(**{**c.__dict__, "files": c.files + c.files})
    with sessions.begin() as s:
        assert ingest(s, [twice], now_ns=1).accepted == 1


def test_non_utf8_and_path_max_paths_round_trip(sessions: sessionmaker[Session]) -> None:
    odd = b"/data/caf\xe9-\xff"
    deep = b"/" + b"/".join([b"x" * 254] * 16)[: 4094]
    with sessions.begin() as s:
        ingest(s, [container("c1", files={odd: R, deep: R})], now_ns=1)
    with sessions() as s:
        assert set(merged(s, "sha256:aaa")) == {odd, deep}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (b"relative/path", "path-not-absolute"),
        (b"/" + b"x" * 4096, "path-too-long"),
        (b"/a\0b", "nul-in-path"),
    ],
)
def test_a_bad_path_is_refused_alone(sessions: sessionmaker[Session], path: bytes, reason: str) -> None:
    """One bad path of one container: its neighbours in the container and in the batch are stored."""
    neighbour = container("c1", files={b"/ok": R})
    mixed = container("c2", files={b"/fine": R, path: R})
    kept, refused = screen([neighbour, mixed])
    assert [(r.container_id, r.path, r.reason, r.files) for r in refused] == [("c2", path[:4096], reason, 1)]
    with sessions.begin() as s:
        assert ingest(s, kept, now_ns=1).accepted == 2
    with sessions() as s:
        assert merged(s, "sha256:aaa") == {b"/ok": (1, R), b"/fine": (1, R)}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"image_digest": ""}, "missing-image-digest"),
        ({"node": "n" * 254}, "field-too-long"),
        ({"image_reference": "r" * 1025}, "field-too-long"),
        ({"pod": "web\0x"}, "nul-in-field"),
        ({"cgroup_id": 2**64 - 1}, "out-of-range"),
        ({"total_events": -1}, "out-of-range"),
    ],
)
def test_a_container_the_database_cannot_hold_is_refused_whole(overrides: dict, reason: str) -> None:
    bad = container("c2", files={b"/a": R, b"/b": R})
    bad = type(bad)(**{**bad.__dict__, **overrides})
    kept, refused = screen([container("c1", files={b"/ok": R}), bad])
    assert [c.container_id for c in kept] == ["c1"]
    assert [(r.container_id, r.path, r.reason, r.files) for r in refused] == [("c2", b"", reason, 2)]


def test_reference_means_most_recent_digest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        ingest(s, [container("c1", digest="sha256:old", reference="app:latest")], now_ns=1)
        ingest(s, [container("c2", digest="sha256:new", reference="app:latest")], now_ns=2)
    with sessions() as s:
        image = find_image(s, "app:latest")
        assert image is not None and image.digest == "sha256:new"


def test_known_ids_skip_lookups_and_are_learned_only_after_commit(sessions: sessionmaker[Session]) -> None:
    known = KnownIds()
    with sessions.begin() as s:
        first = ingest(s, [container("c1", files={b"/a": R, b"/b": R})], now_ns=1, known=known)
    assert known.paths([b"/a"]) == [None]  # not yet: the caller learns after its commit
    known.learn(first.learned)
    assert known.paths([b"/a"]) == [first.learned.paths[b"/a"]]
    with sessions.begin() as s:
        second = ingest(s, [container("c2", files={b"/a": R, b"/c": R})], now_ns=2, known=known)
    assert set(second.learned.paths) == {b"/c"}  # /a came from memory
    assert second.learned.images == {}  # so did the image
    with sessions() as s:
        assert merged(s, "sha256:aaa") == {b"/a": (2, R), b"/b": (1, R), b"/c": (1, R)}


def test_rolled_back_batch_teaches_nothing(sessions: sessionmaker[Session]) -> None:
    known = KnownIds()
    with pytest.raises(RuntimeError), sessions.begin() as s:
        ingest(s, [container("c1", files={b"/a": R})], now_ns=1, known=known)
        raise RuntimeError("the commit never happens")
    assert known.paths([b"/a"]) == [None]
