"""Engine and session factories; nothing is created at import."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver snoop installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


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


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # work_mem: a diff's sets of 100,000 ids fit in memory. jit=off: a report's estimated cost (one
    # subplan per long path) crosses JIT's threshold, and compiling costs more than the query saves.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         connect_args={"options": "-c work_mem=64MB -c jit=off"})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
