"""The ingest hot path, per dialect: thousands of file rows per batch in a handful of statements.

SQLite runs in-process, so executemany costs no round trips. PostgreSQL gets the batch's files by one
binary ``COPY`` into a staging table and merges them in one set-based statement whatever the batch holds
(rows taken in key order, so that concurrent batches lock shared rows alike: no deadlocks between agents);
the few new paths go as arrays that are ``unnest``ed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from snoop.collector.storage.days import open_day

# (instance_id, image_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type, path_key, day, node_key): at
# most one row per instance and path; ``day`` is the instance's files_day, ``node_key`` its node's (spread.py).
FileRow = tuple[int, int, int, int, int, int, int, bytes, int, int]


class Bulk(Protocol):
    def intern_paths(self, conn: Connection, digests: Sequence[bytes], paths: Sequence[bytes]) -> dict[bytes, int]:
        """digest -> path id, inserting unseen paths."""

    def add_files(self, conn: Connection, rows: Sequence[FileRow]) -> int:
        """Adds the files that are new to their instance and counts each of them once more in its image's
        merge (and its node once, if new to the path: ``image_node_paths``); a known file used in a new way
        widens its kinds in both (and a better-known type replaces a lesser one). Returns how many files
        were new: 0 for a replayed batch."""


CHUNK = 900  # under SQLite's 999-variable floor of old builds


def _in_chunks(conn: Connection, sql: str, fixed: tuple, values: Sequence) -> Iterator[Any]:
    """The rows of ``sql`` whose ``{marks}`` stands for an ``IN`` list of ``values``, asked CHUNK values at a
    time (under the variable limit), after the ``fixed`` parameters. Read as the driver's tuples: a result
    row object per known file cost ~7% of SQLite's ingest."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for i in range(0, len(values), CHUNK):
            chunk = tuple(values[i : i + CHUNK])
            yield from cursor.execute(sql.format(marks=",".join("?" * len(chunk))), (*fixed, *chunk)).fetchall()
    finally:
        cursor.close()


class SqliteBulk:
    def intern_paths(self, conn: Connection, digests: Sequence[bytes], paths: Sequence[bytes]) -> dict[bytes, int]:
        conn.exec_driver_sql("INSERT INTO paths (digest, path) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING",
                             list(zip(digests, paths, strict=True)))
        return dict(_in_chunks(conn, "SELECT digest, id FROM paths WHERE digest IN ({marks})", (), digests))

    @staticmethod
    def _existing(conn: Connection, rows: Sequence[FileRow]) -> dict[tuple[int, int], tuple[int, int]]:
        """(instance, path) -> (kinds, type) of the rows' files their instances have already, read per
        instance in chunks under the variable limit."""
        by_instance: dict[int, list[int]] = {}
        for r in rows:
            by_instance.setdefault(r[0], []).append(r[2])
        return {(instance_id, p): (k, t) for instance_id, ids in by_instance.items() for p, k, t in _in_chunks(
            conn, "SELECT path_id, kinds, file_type FROM instance_files WHERE instance_id = ? AND path_id IN ({marks})",
            (instance_id,), ids)}

    @staticmethod
    def _spread(conn: Connection, new: Sequence[FileRow]) -> set[tuple[int, int, int]]:
        """The (image, node, path)s of ``new`` that ``image_node_paths`` lacked, now added: read per
        (image, node) in chunks, each one range of its index."""
        by_node: dict[tuple[int, int], set[int]] = {}
        for r in new:
            by_node.setdefault((r[1], r[9]), set()).add(r[2])
        added: set[tuple[int, int, int]] = set()
        for (image_id, key), wanted in by_node.items():
            ids = sorted(wanted)
            known = {p for (p,) in _in_chunks(conn, "SELECT path_id FROM image_node_paths "
                                              "WHERE image_id = ? AND node_key = ? AND path_id IN ({marks})",
                                              (image_id, key), ids)}
            added.update((image_id, key, p) for p in ids if p not in known)
        if added:
            conn.exec_driver_sql("INSERT INTO image_node_paths (image_id, node_key, path_id) VALUES (?, ?, ?)",
                                 sorted(added))
        return added

    def add_files(self, conn: Connection, rows: Sequence[FileRow]) -> int:
        existing = self._existing(conn, rows)
        new = [r for r in rows if (r[0], r[2]) not in existing]
        if new:
            conn.exec_driver_sql(
                "INSERT INTO instance_files (instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type, day) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [(r[0], *r[2:7], r[8]) for r in new])
            spread = self._spread(conn, new)
            merged = []
            for r in new:  # a node new to a path counted once, though two of its instances used it
                key = (r[1], r[9], r[2])
                merged.append((*r[1:8], int(key in spread)))
                spread.discard(key)
            # The type is left out of the upsert's SET: SQLite rewrites the entry of every index holding a
            # column the SET names, changed or not (ix_image_files_order: ingest took ×1.8 as long). It is
            # raised apart, where it grew: a lookup per file, a write only for the rare better-known type.
            conn.exec_driver_sql(
                "INSERT INTO image_files (image_id, path_id, containers, kinds, first_seen_ns, last_seen_ns, "
                "file_type, path_key, nodes) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT (image_id, path_id) "
                "DO UPDATE SET containers = containers + 1, kinds = kinds | excluded.kinds, "
                "first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
                "last_seen_ns = max(last_seen_ns, excluded.last_seen_ns), nodes = nodes + excluded.nodes",
                merged)
            typed = [(r[6], r[1], r[2], r[6]) for r in new if r[6]]
            if typed:
                conn.exec_driver_sql("UPDATE image_files SET file_type = ? WHERE image_id = ? AND path_id = ? "
                                     "AND file_type < ?", typed)
        self._widen(conn, rows, existing)
        return len(new)

    @staticmethod
    def _widen(conn: Connection, rows: Sequence[FileRow], existing: dict[tuple[int, int], tuple[int, int]]) -> None:
        """Known files used in a new way get the new kinds and type (rare: one statement per file)."""
        grown = [r for r in rows if (was := existing.get((r[0], r[2]))) is not None
                 and (r[3] | was[0] != was[0] or r[6] > was[1])]
        if grown:
            conn.exec_driver_sql("UPDATE instance_files SET kinds = kinds | ?, file_type = max(file_type, ?) "
                                 "WHERE instance_id = ? AND path_id = ?", [(r[3], r[6], r[0], r[2]) for r in grown])
            conn.exec_driver_sql("UPDATE image_files SET kinds = kinds | ?, file_type = max(file_type, ?) "
                                 "WHERE image_id = ? AND path_id = ?", [(r[3], r[6], r[1], r[2]) for r in grown])


# The batch's files, copied in: every step after that is one set-based statement, whatever the batch holds.
# Emptied at commit in place (a TRUNCATE would give it a new file and catalog rows each time: 3 ms a batch).
STAGE = ("CREATE TEMP TABLE IF NOT EXISTS staged_files (instance_id int, image_id int, path_id bigint, kinds int, "
         "first_seen_ns bigint, last_seen_ns bigint, file_type smallint, path_key bytea, day int, node_key bigint) "
         "ON COMMIT DELETE ROWS")
STAGED_TYPES = ("int4", "int4", "int8", "int4", "int8", "int8", "int2", "bytea", "int4", "int8")

# The rows their instances did not have yet flow from its INSERT into the nodes per path and the merge,
# one row per image and path (two instances of one image in a batch: both counted, their node once); all in
# key order, so concurrent batches lock shared rows alike (no deadlocks between agents).
ADD = """
    WITH added AS (
        INSERT INTO instance_files (instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type, day)
        SELECT instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type, day FROM staged_files
        ORDER BY instance_id, path_id
        ON CONFLICT (instance_id, path_id, day) DO NOTHING
        RETURNING instance_id, path_id),
    fresh AS (
        SELECT s.* FROM added a JOIN staged_files s ON s.instance_id = a.instance_id AND s.path_id = a.path_id),
    spread AS (
        INSERT INTO image_node_paths (image_id, node_key, path_id)
        SELECT DISTINCT image_id, node_key, path_id FROM fresh ORDER BY image_id, node_key, path_id
        ON CONFLICT DO NOTHING
        RETURNING image_id, path_id),
    merged AS (
        INSERT INTO image_files AS f (image_id, path_id, containers, kinds, first_seen_ns, last_seen_ns, file_type,
                                      path_key, nodes)
        SELECT s.image_id, s.path_id, count(*), bit_or(s.kinds), min(s.first_seen_ns), max(s.last_seen_ns),
               max(s.file_type), s.path_key, coalesce(n.nodes, 0)
        FROM fresh s LEFT JOIN (SELECT image_id, path_id, count(*) AS nodes FROM spread GROUP BY image_id, path_id) n
            ON n.image_id = s.image_id AND n.path_id = s.path_id
        GROUP BY s.image_id, s.path_id, s.path_key, n.nodes ORDER BY s.image_id, s.path_id
        ON CONFLICT (image_id, path_id) DO UPDATE SET containers = f.containers + excluded.containers,
            kinds = f.kinds | excluded.kinds,
            first_seen_ns = LEAST(f.first_seen_ns, excluded.first_seen_ns),
            last_seen_ns = GREATEST(f.last_seen_ns, excluded.last_seen_ns),
            file_type = GREATEST(f.file_type, excluded.file_type),
            nodes = f.nodes + excluded.nodes)
    SELECT count(*) FROM added"""

# A replay, or known files: kinds and types widened where they grew, in the instance and in the merge.
WIDEN = """
    WITH grown AS (
        UPDATE instance_files i SET kinds = i.kinds | s.kinds, file_type = GREATEST(i.file_type, s.file_type)
        FROM staged_files s
        WHERE i.instance_id = s.instance_id AND i.path_id = s.path_id AND i.day = s.day
          AND (i.kinds | s.kinds <> i.kinds OR s.file_type > i.file_type)
        RETURNING s.image_id, i.path_id, i.kinds, i.file_type)
    UPDATE image_files f SET kinds = f.kinds | g.kinds, file_type = GREATEST(f.file_type, g.file_type)
    FROM (SELECT image_id, path_id, bit_or(kinds) AS kinds, max(file_type) AS file_type FROM grown
          GROUP BY image_id, path_id) g
    WHERE f.image_id = g.image_id AND f.path_id = g.path_id"""


class PostgresBulk:
    """Arrays and COPY go over the wire in binary: psycopg's text arrays of bytea cost more than the insert."""

    @staticmethod
    def _run(conn: Connection, sql: str, params: tuple) -> list[tuple]:
        with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(sql, params, binary=True)
            return cur.fetchall() if cur.description else []

    def intern_paths(self, conn: Connection, digests: Sequence[bytes], paths: Sequence[bytes]) -> dict[bytes, int]:
        order = sorted(range(len(paths)), key=paths.__getitem__)  # ids ascend with paths
        # One round trip: the CTE inserts what is new; the outer SELECT (whose snapshot predates the
        # insert) finds what was there already.
        rows = self._run(conn, """
            WITH input (digest, path) AS (SELECT * FROM unnest(%b::bytea[], %b::bytea[])),
            added AS (INSERT INTO paths (digest, path) SELECT digest, path FROM input
                      ON CONFLICT (digest) DO NOTHING RETURNING digest, id)
            SELECT digest, id FROM added
            UNION ALL SELECT p.digest, p.id FROM paths p JOIN input i ON p.digest = i.digest""",
            ([digests[i] for i in order], [paths[i] for i in order]))
        ids = {bytes(d): i for d, i in rows}
        if len(ids) < len(set(digests)):
            # A concurrent batch inserted some of these and committed while this statement waited on
            # them: invisible to its snapshot, visible to the next statement's.
            late = [d for d in digests if d not in ids]
            ids.update((bytes(d), i) for d, i in self._run(
                conn, "SELECT digest, id FROM paths WHERE digest = ANY(%b::bytea[])", (late,)))
        return ids

    def add_files(self, conn: Connection, rows: Sequence[FileRow]) -> int:
        for day in {r[8] for r in rows}:  # one catalog lookup a batch: no memory to go stale when days go
            open_day(conn, day)
        with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(STAGE)
            with cur.copy("COPY staged_files FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(STAGED_TYPES)
                for row in rows:
                    copy.write_row(row)
            (new,) = cur.execute(ADD).fetchone()
            if new < len(rows):
                cur.execute(WIDEN)
            cur.execute("DELETE FROM staged_files")  # for the next batch of this transaction, if any
        return new
