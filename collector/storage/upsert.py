"""Dialect-specific INSERT … ON CONFLICT and GREATEST/LEAST: SQLite and PostgreSQL spell them apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def greatest(session: Session, a: Any, b: Any) -> Any:
    """Scalar max of two values (SQLite's two-argument max() is scalar, PostgreSQL has GREATEST)."""
    return func.greatest(a, b) if session.get_bind().dialect.name == "postgresql" else func.max(a, b)

