"""A file list's JSON, encoded again after a change: the unchanged rows are taken from the last encoding, and
the result must be what encoding every row afresh gives. Paths as text, many at once."""

from __future__ import annotations

import json
import os
import random

import pytest

from snoop.collector.api import render
from snoop.collector.api.render import EncodedRows, encoded_rows, file_json
from snoop.collector.encoding import decoded_paths

NS = 1_700_000_000_123_000_000


def row(path: bytes, containers: int = 1, size: int | None = None) -> tuple:
    """(path, containers, kinds, first_seen_ns, last_seen_ns, file_type, size, package)."""
    return (path, containers, 1, NS, NS, 1, size, None)


def fresh(rows: list[tuple]) -> list[dict]:
    return json.loads(json.dumps([file_json(r) for r in rows]))


def decoded(encoded: EncodedRows) -> list[dict]:
    return json.loads(b"[%s]" % encoded.json())


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The rows encoded afresh (not copied from an earlier encoding)."""
    seen: list[tuple] = []

    def counted(r: tuple) -> dict:
        seen.append(r)
        return file_json(r)

    monkeypatch.setattr(render, "file_json", counted)
    return seen


def test_a_new_encoding_takes_the_unchanged_rows_and_encodes_the_others(encodes: list[tuple]) -> None:
    rows = [row(b"/bin/sh"), row(b"/caf\xe9"), row(b"/etc/a.conf"), row(b"/lib/x.so", size=10)]
    first = encoded_rows(rows)
    assert decoded(first) == fresh(rows) and len(encodes) == 4
    encodes.clear()
    changed = [row(b"/bin/sh"), row(b"/caf\xe9", containers=2), row(b"/etc/b.conf"), row(b"/lib/x.so", size=10)]
    again = encoded_rows(changed, first)
    assert decoded(again) == fresh(changed)  # a changed row, a new one, one gone, a non-UTF-8 path
    assert encodes == [changed[1], changed[2]]


def test_rows_added_after_the_last_one_and_before_the_first(encodes: list[tuple]) -> None:
    first = encoded_rows([row(b"/b"), row(b"/c")])
    encodes.clear()
    again = encoded_rows([row(b"/a"), row(b"/b"), row(b"/c"), row(b"/d")], first)
    assert decoded(again) == fresh([row(b"/a"), row(b"/b"), row(b"/c"), row(b"/d")])
    assert encodes == [row(b"/a"), row(b"/d")]


def test_many_scattered_changes_over_long_runs_equal_a_fresh_encoding(encodes: list[tuple]) -> None:
    """Runs longer than the compared windows, with rows changed, added and gone anywhere: three generations."""
    rng = random.Random(7)
    rows = [row(b"/usr/lib/f%06d" % i, containers=rng.randrange(1, 5)) for i in range(0, 20_000, 2)]
    encoded = encoded_rows(rows)
    for _ in range(3):
        kept = [r for r in rows if rng.random() > 0.01]  # 1% gone
        kept = [row(r[0], r[1] + 1) if rng.random() < 0.01 else r for r in kept]  # 1% changed
        added = [row(b"/usr/lib/f%06d" % rng.randrange(1, 20_000, 2)) for _ in range(100)]  # new, odd paths
        rows = sorted({r[0]: r for r in kept + added}.values())
        encodes.clear()
        encoded = encoded_rows(rows, encoded)
        assert decoded(encoded) == fresh(rows)
        assert len(encodes) < len(rows) // 20  # only what changed was encoded again
        for k in rng.sample(range(len(rows)), 50):  # each row found where its start says, for the next change
            assert json.loads(encoded.items[encoded.starts[k] : encoded.starts[k + 1] - 1]) == fresh([rows[k]])[0]


def test_empty_and_single_lists() -> None:
    assert bytes(encoded_rows([]).json()) == b""
    assert decoded(encoded_rows([row(b"/a")], encoded_rows([]))) == fresh([row(b"/a")])
    assert decoded(encoded_rows([], encoded_rows([row(b"/a")]))) == []


def test_paths_decoded_together_equal_each_decoded_alone() -> None:
    """Bytes that are not UTF-8 stay surrogates wherever they sit: a sequence cut at a path's end, a lone
    continuation byte, valid characters around them; a NUL (never stored) falls back to one by one."""
    paths = [b"/caf\xc3", b"\xa9/x", b"/\xe2\x82\xac", b"/ok", b"/\xff\xfe", b"/caf\xc3\xa9"]
    assert decoded_paths(paths) == [os.fsdecode(p) for p in paths]
    assert decoded_paths([]) == [] and decoded_paths([b"/a\0b", b"/c"]) == ["/a\0b", "/c"]
