"""A file list's JSON, encoded again after a change: the unchanged rows are taken from the last encoding, and
the result must be what encoding every row afresh gives."""

from __future__ import annotations

import json

from snoop.collector.api.render import encoded_rows, file_json

NS = 1_700_000_000_123_000_000


def row(path: bytes, containers: int = 1, size: int | None = None) -> tuple:
    """(path, containers, kinds, first_seen_ns, last_seen_ns, file_type, size, package)."""
    return (path, containers, 1, NS, NS, 1, size, None)


def fresh(rows: list[tuple]) -> list[dict]:
    return json.loads(json.dumps([file_json(r) for r in rows]))


def test_a_new_encoding_takes_the_unchanged_rows_and_encodes_the_others() -> None:
    rows = [row(b"/bin/sh"), row(b"/caf\xe9"), row(b"/etc/a.conf"), row(b"/lib/x.so", size=10)]
    first = encoded_rows(rows)
    assert json.loads(first.body) == fresh(rows)
    changed = [row(b"/bin/sh"), row(b"/caf\xe9", containers=2), row(b"/etc/b.conf"), row(b"/lib/x.so", size=10)]
    again = encoded_rows(changed, first)
    assert json.loads(again.body) == fresh(changed)  # a changed row, a new one, one gone, a non-UTF-8 path
    assert again.part(changed[3]) == first.part(rows[3]) and first.part(changed[1]) is None


def test_empty_and_single_lists() -> None:
    assert encoded_rows([]).body == b"[]"
    assert json.loads(encoded_rows([row(b"/a")], encoded_rows([])).body) == fresh([row(b"/a")])
