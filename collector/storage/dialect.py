"""Everything SQLite and PostgreSQL do differently, behind one seam: the rest of the collector asks
``dialect_of(...)`` what to do and never compares dialect names itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Select, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from snoop.collector.storage.bulk import Bulk, PostgresBulk, SqliteBulk

MIGRATION_LOCK = 0x736E6F6F70  # "snoop": replicas starting together take turns


class SqliteDialect:
    single_writer = True  # one writer at a time: writers queue in the collector, not in SQLite's busy handler
    bulk: Bulk = SqliteBulk()

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.max(a, b)  # two-argument max() is scalar in SQLite

    def least(self, a: Any, b: Any) -> Any:
        return func.min(a, b)

    def lock_migrations(self, conn: Connection) -> None:
        """One process writes a SQLite file; nothing to take turns on."""

    def analyze(self, conn: Connection, tables: tuple[str, ...]) -> None:
        """Fresh statistics, sampled: without them SQLite drives a join from the larger table (an image's
        100,000 inventory rows instead of its few thousand used ones)."""
        conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")

    def fetch_all(self, conn: Connection, stmt: Select) -> list[tuple]:
        result = conn.execute(stmt)
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()


class PostgresDialect:
    single_writer = False
    bulk: Bulk = PostgresBulk()

    def insert(self, table: Any) -> Any:
        return postgresql.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.greatest(a, b)

    def least(self, a: Any, b: Any) -> Any:
        return func.least(a, b)

    def lock_migrations(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})

    def analyze(self, conn: Connection, tables: tuple[str, ...]) -> None:
        """Fresh statistics (PostgreSQL samples): autovacuum would take its time after a bulk load."""
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")

    def fetch_all(self, conn: Connection, stmt: Select) -> list[tuple]:
        """In PostgreSQL's binary format: bytea in text format is hex, and decoding 5 MB of it costs more
        than the query."""
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(str(compiled), compiled.params, binary=True)
            return cur.fetchall()


Dialect = SqliteDialect | PostgresDialect
_DIALECTS: dict[str, Dialect] = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect()}


def dialect_of(where: Session | Connection | Engine) -> Dialect:
    bind = where.get_bind() if isinstance(where, Session) else where
    return _DIALECTS[bind.dialect.name]
