"""Alembic environment: runs on the connection collector.storage.db hands it (or on a URL from the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from snoop.collector.config import DEFAULT_DB
from snoop.collector.storage.db import make_engine
from snoop.collector.storage.models import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or DEFAULT_DB)
    with engine.begin() as conn:
        run(conn)
