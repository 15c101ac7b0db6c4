"""What every read shares: filters and pages as the REST API takes them, the prefix range, and rows as
plain tuples. Images, workloads and diffs build their queries from these."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CompoundSelect, Select
from sqlalchemy.orm import Session

from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.models import Path


@dataclass(frozen=True)
class FileFilter:
    prefix: bytes | None = None
    kinds: int = 0          # files with any of these kinds; 0 = all
    since_ns: int = 0       # files last seen at or after
    types: tuple[int, ...] = ()  # common.file_types codes; () = all


@dataclass(frozen=True)
class Page:
    limit: int | None
    offset: int = 0
    after: bytes | None = None  # keyset paging: the rows after this path (stable while ingest goes on)

    @property
    def everything(self) -> bool:
        return self.limit is None and not self.offset and self.after is None

    def apply(self, q: Select) -> Select:
        """LIMIT/OFFSET only when paging: SQLite sorts a bound "LIMIT -1" far slower than no LIMIT."""
        return q if self.everything else q.offset(self.offset).limit(self.limit)


def prefix_range(prefix: bytes) -> tuple[bytes, bytes | None]:
    """[low, high) of the byte strings that start with ``prefix``: an index-friendly LIKE for bytes."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return prefix, None
    return prefix, stripped[:-1] + bytes([stripped[-1] + 1])


def with_prefix(q: Select, prefix: bytes | None) -> Select:
    """Only paths under ``prefix``: a range on the path, which an index can serve (LIKE on bytes cannot)."""
    if not prefix:
        return q
    low, high = prefix_range(prefix)
    q = q.where(Path.path >= low)
    return q if high is None else q.where(Path.path < high)


def sorted_rows(rows: list[tuple]) -> list[tuple]:
    """Rows whose first column is a path, in byte order (what ORDER BY on bytea/BLOB gives)."""
    rows.sort(key=lambda r: r[0])
    return rows


def fetch_all(session: Session, stmt: Select | CompoundSelect) -> list[tuple]:
    """Plain DBAPI tuples: for a 100,000-row report SQLAlchemy's Row objects cost as much as the query.
    Only for columns that need no result processing (ints, bytes, strings)."""
    conn = session.connection()
    return dialect_of(conn).fetch_all(conn, stmt)
