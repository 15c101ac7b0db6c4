"""The Alembic history builds exactly the schema the models declare."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.db import make_engine
from snoop.collector.storage.migrate import upgrade
from snoop.collector.storage.models import Base
from tests.harness.postgres import Postgres


def test_migrations_match_models(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_replicas_starting_together_migrate_once(postgres: Postgres) -> None:
    """Four collector replicas starting at once on one PostgreSQL: all succeed, the schema is made once.
    (SQLite is the single-collector default: no replicas to race.)"""
    engines = [make_engine(db_url) for db_url in [postgres.new_database()] * 4]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(upgrade, engines))
        assert {"images", "paths", "image_files", "alembic_version"} <= set(inspect(engines[0]).get_table_names())
    finally:
        for engine in engines:
            engine.dispose()
