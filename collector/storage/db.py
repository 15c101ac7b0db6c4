"""Engine and session factories; nothing is created at import."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.dialect import dialect_named


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver snoop installs; a URL that is none, or
    of a database snoop does not store in, is a ValueError."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"--db: not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    dialect_named(parsed.get_backend_name())
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    return dialect_named(make_url(url).get_backend_name()).make_engine(url)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
