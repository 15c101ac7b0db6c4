"""Everything SQLite and PostgreSQL do differently, behind one seam: the rest of the collector asks
``dialect_of(...)`` what to do and never compares dialect names itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, Connection, Engine, Select, create_engine, event, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from snoop.collector.storage.bulk import Bulk, PostgresBulk, SqliteBulk

MIGRATION_LOCK = 0x736E6F6F70  # "snoop": replicas starting together take turns


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the ingest writer
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged batch survives a power cut, not just a crash
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Reads map the file instead of copying each page through a 2 MB cache: a 100,000-file report
    # touches every page of its index range. Address space only; the OS shares the pages.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


class SqliteDialect:
    single_writer = True  # one writer at a time: writers queue in the collector, not in SQLite's busy handler
    # Two reads at once take turns: sqlite3 hands the GIL over at every row (a diff's sides: ×1.7 the time).
    parallel_reads = False
    files_by_day = False  # retention deletes rows: SQLite reuses a deleted row's pages itself
    # Merged rows numbered in the order they were added: the least number of any row added from now on, and
    # an image's rows from a number on (reports/diff.py). The rowid, one above the highest (one writer); + 0
    # reads a range of rowids, not the image's 100,000 index entries.
    added_mark = "SELECT coalesce(max(rowid), 0) + 1 FROM image_files"
    added_since = "image_files.rowid >= :mark AND image_files.image_id + 0 = :image"
    bulk: Bulk = SqliteBulk()

    def make_engine(self, url: str) -> Engine:
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.max(a, b)  # two-argument max() is scalar in SQLite

    def least(self, a: Any, b: Any) -> Any:
        return func.min(a, b)

    def lock_migrations(self, conn: Connection) -> None:
        """One process writes a SQLite file; nothing to take turns on."""

    def take_turn(self, conn: Connection, lock: int) -> bool:
        """One collector serves a SQLite file: its turn always."""
        return True

    def end_turn(self, conn: Connection, lock: int) -> None:
        """Nothing was taken."""

    def analyze(self, conn: Connection, tables: tuple[str, ...]) -> None:
        """Fresh statistics, sampled: without them SQLite drives a join from the larger table (an image's
        100,000 inventory rows instead of its few thousand used ones)."""
        conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")

    def fetch_all(self, conn: Connection, stmt: Select | CompoundSelect) -> list[tuple]:
        result = conn.execute(stmt)
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()


class PostgresDialect:
    single_writer = False
    parallel_reads = True  # the server reads one while the collector decodes the other
    files_by_day = True  # instance_files is partitioned by day: retention drops days (days.py)
    # Numbered by the adding transaction (the column's default), from the oldest one still running: a row a
    # later statement does not see was added by it or a later one.
    added_mark = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    added_since = "image_files.image_id = :image AND image_files.added_xid >= :mark"
    bulk: Bulk = PostgresBulk()

    def make_engine(self, url: str) -> Engine:
        # work_mem: a diff's sets of 100,000 ids fit in memory. jit=off: a report's estimated cost (one
        # subplan per long path) crosses JIT's threshold, and compiling costs more than the query saves.
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                             connect_args={"options": "-c work_mem=64MB -c jit=off"})

    def insert(self, table: Any) -> Any:
        return postgresql.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.greatest(a, b)

    def least(self, a: Any, b: Any) -> Any:
        return func.least(a, b)

    def lock_migrations(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})

    def take_turn(self, conn: Connection, lock: int) -> bool:
        """Whether this replica holds ``lock`` now (a session lock, held until ``end_turn``); False while
        another one does."""
        return bool(conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock}).scalar())

    def end_turn(self, conn: Connection, lock: int) -> None:
        conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock})

    def analyze(self, conn: Connection, tables: tuple[str, ...]) -> None:
        """Fresh statistics (PostgreSQL samples): autovacuum would take its time after a bulk load."""
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")

    def fetch_all(self, conn: Connection, stmt: Select | CompoundSelect) -> list[tuple]:
        """In PostgreSQL's binary format: bytea in text format is hex, and decoding 5 MB of it costs more
        than the query."""
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(str(compiled), compiled.params, binary=True)
            return cur.fetchall()


Dialect = SqliteDialect | PostgresDialect
_DIALECTS: dict[str, Dialect] = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect()}


def dialect_named(name: str) -> Dialect:
    """By SQLAlchemy's backend name; a ValueError names the ones snoop stores in."""
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"--db: snoop stores in SQLite or PostgreSQL, not {name}") from None


def dialect_of(where: Session | Connection | Engine) -> Dialect:
    bind = where.get_bind() if isinstance(where, Session) else where
    return _DIALECTS[bind.dialect.name]
