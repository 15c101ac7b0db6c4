"""Schema migrations (Alembic), run by the collector at start-up. Replicas starting together take turns:
on PostgreSQL an advisory lock held for the migration's transaction; SQLite has one writer anyway."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from snoop.collector.storage.dialect import dialect_of

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        dialect_of(connection).lock_migrations(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
