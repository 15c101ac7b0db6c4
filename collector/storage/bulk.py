"""The ingest hot path, per dialect: thousands of file rows per batch in a handful of statements.

SQLite runs in-process, so executemany costs no round trips. PostgreSQL gets each column as one array
and ``unnest``s it: one statement per step whatever the batch size, with rows sorted by key so that
concurrent batches lock shared rows in the same order (no deadlocks between agents).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.engine import Connection

# (path_id, kinds, first_seen_ns, last_seen_ns, file_type, path_key)
FileRow = tuple[int, int, int, int, int, bytes]


class Bulk(Protocol):
    def intern_paths(self, conn: Connection, digests: Sequence[bytes], paths: Sequence[bytes]) -> dict[bytes, int]:
        """digest -> path id, inserting unseen paths."""

    def add_files(self, conn: Connection, instance_id: int, image_id: int, rows: Sequence[FileRow]) -> int:
        """Adds the instance's files that are new to it and counts each of them once more in the
        image's merge; a known file used in a new way widens its kinds in both (and a better-known
        type replaces a lesser one). Returns how many files were new: 0 for a replayed batch."""


CHUNK = 900  # under SQLite's 999-variable floor of old builds


class SqliteBulk:
    def intern_paths(self, conn: Connection, digests: Sequence[bytes], paths: Sequence[bytes]) -> dict[bytes, int]:
        conn.exec_driver_sql("INSERT INTO paths (digest, path) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING",
                             list(zip(digests, paths, strict=True)))
        ids: dict[bytes, int] = {}
        for i in range(0, len(digests), CHUNK):
            chunk = tuple(digests[i : i + CHUNK])
            marks = ",".join("?" * len(chunk))
            ids.update(conn.exec_driver_sql(f"SELECT digest, id FROM paths WHERE digest IN ({marks})", chunk).all())
        return ids

    @staticmethod
    def _read(conn: Connection, sql: str, key: int, ids: Sequence[int]) -> list[tuple]:
        """``sql``'s rows for ``key`` and the ids, chunked under the variable limit."""
        out: list[tuple] = []
        for i in range(0, len(ids), CHUNK):
            chunk = tuple(ids[i : i + CHUNK])
            out += conn.exec_driver_sql(sql.format(marks=",".join("?" * len(chunk))), (key, *chunk)).all()
        return out

    def add_files(self, conn: Connection, instance_id: int, image_id: int, rows: Sequence[FileRow]) -> int:
        ids = [r[0] for r in rows]
        existing = {p: (k, t) for p, k, t in self._read(
            conn, "SELECT path_id, kinds, file_type FROM instance_files WHERE instance_id = ? AND path_id IN ({marks})",
            instance_id, ids)}
        new = [r for r in rows if r[0] not in existing]
        if not new:
            return self._widen(conn, instance_id, image_id, rows, existing)
        conn.exec_driver_sql(
            "INSERT INTO instance_files (instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type) "
            "VALUES (?, ?, ?, ?, ?, ?)", [(instance_id, *r[:5]) for r in new])
        # The type is left out of the upsert's SET: SQLite rewrites the entry of every index holding a
        # column the SET names, changed or not (ix_image_files_order: ingest took ×1.8 as long). It is
        # raised apart, where it grew: a lookup per file, a write only for the rare better-known type.
        conn.exec_driver_sql(
            "INSERT INTO image_files (image_id, path_id, containers, kinds, first_seen_ns, last_seen_ns, "
            "file_type, path_key) VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (image_id, path_id) DO UPDATE SET "
            "containers = containers + 1, kinds = kinds | excluded.kinds, "
            "first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
            "last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
            [(image_id, *r) for r in new])
        typed = [(r[4], image_id, r[0], r[4]) for r in new if r[4]]
        if typed:
            conn.exec_driver_sql("UPDATE image_files SET file_type = ? WHERE image_id = ? AND path_id = ? "
                                 "AND file_type < ?", typed)
        return self._widen(conn, instance_id, image_id, rows, existing) + len(new)

    @staticmethod
    def _widen(conn: Connection, instance_id: int, image_id: int, rows: Sequence[FileRow],
               existing: dict[int, tuple[int, int]]) -> int:
        """Known files used in a new way get the new kinds and type (rare: one statement per file).
        Returns 0."""
        grown = [(r[1], r[4], r[0]) for r in rows if r[0] in existing
                 and (r[1] | existing[r[0]][0] != existing[r[0]][0] or r[4] > existing[r[0]][1])]
        if grown:
            conn.exec_driver_sql("UPDATE instance_files SET kinds = kinds | ?, file_type = max(file_type, ?) "
                                 "WHERE instance_id = ? AND path_id = ?",
                                 [(k, t, instance_id, p) for k, t, p in grown])
            conn.exec_driver_sql("UPDATE image_files SET kinds = kinds | ?, file_type = max(file_type, ?) "
                                 "WHERE image_id = ? AND path_id = ?",
                                 [(k, t, image_id, p) for k, t, p in grown])
        return 0


class PostgresBulk:
    """Arrays go over the wire in binary (``%b``): psycopg's text arrays of bytea cost more than the insert."""

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

    @staticmethod
    def _columns(rows: Sequence[FileRow]) -> tuple[list, ...]:
        ordered = sorted(rows)
        return tuple([r[i] for r in ordered] for i in range(6))

    def add_files(self, conn: Connection, instance_id: int, image_id: int, rows: Sequence[FileRow]) -> int:
        columns = self._columns(rows)
        # One statement: the rows the instance did not have yet flow from its INSERT into the merge.
        (new,), = self._run(conn, """
            WITH input (p, k, f, l, t, key) AS (
                SELECT * FROM unnest(%b::bigint[], %b::int[], %b::bigint[], %b::bigint[], %b::smallint[],
                                     %b::bytea[])),
            added AS (
                INSERT INTO instance_files (instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type)
                SELECT %s, p, k, f, l, t FROM input
                ON CONFLICT (instance_id, path_id) DO NOTHING
                RETURNING path_id, kinds, first_seen_ns, last_seen_ns, file_type),
            merged AS (
                INSERT INTO image_files AS f (image_id, path_id, containers, kinds, first_seen_ns, last_seen_ns,
                                              file_type, path_key)
                SELECT %s, a.path_id, 1, a.kinds, a.first_seen_ns, a.last_seen_ns, a.file_type, input.key
                FROM added a JOIN input ON input.p = a.path_id ORDER BY a.path_id
                ON CONFLICT (image_id, path_id) DO UPDATE SET containers = f.containers + 1,
                    kinds = f.kinds | excluded.kinds,
                    first_seen_ns = LEAST(f.first_seen_ns, excluded.first_seen_ns),
                    last_seen_ns = GREATEST(f.last_seen_ns, excluded.last_seen_ns),
                    file_type = GREATEST(f.file_type, excluded.file_type)
                RETURNING 1)
            SELECT count(*) FROM merged""", (*columns, instance_id, image_id))
        if new < len(rows):  # a replay, or known files: widen kinds and types where they grew
            self._run(conn, """
                WITH grown AS (
                    UPDATE instance_files i SET kinds = i.kinds | u.k, file_type = GREATEST(i.file_type, u.t)
                    FROM unnest(%b::bigint[], %b::int[], %b::smallint[]) AS u(p, k, t)
                    WHERE i.instance_id = %s AND i.path_id = u.p AND (i.kinds | u.k <> i.kinds OR u.t > i.file_type)
                    RETURNING i.path_id, i.kinds, i.file_type)
                UPDATE image_files f SET kinds = f.kinds | grown.kinds,
                    file_type = GREATEST(f.file_type, grown.file_type)
                FROM grown WHERE f.image_id = %s AND f.path_id = grown.path_id""",
                (columns[0], columns[1], columns[4], instance_id, image_id))
        return new

