"""instance files filed by day: on PostgreSQL ``instance_files`` becomes partitioned by day, so retention
drops a day's rows whole instead of deleting them row by row

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Rows stored before are filed under day 0: the table becomes that day's partition as it is (no rows copied;
its key is rebuilt with the day), or is replaced if empty. The first retention pass then moves the instances
still running to the current day and drops the rest with their day. SQLite gains the columns only: it keeps row deletes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DAY_ZERO = "instance_files_1970_01_01"  # collector.storage.days.day_table(0)
PATH_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('container_instances', sa.Column('files_day', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name != "postgresql":
        op.add_column('instance_files', sa.Column('day', sa.Integer(), server_default='0', nullable=False))
        return
    stored = op.get_bind().execute(sa.text("SELECT EXISTS (SELECT FROM instance_files)")).scalar()
    op.rename_table('instance_files', DAY_ZERO)
    if stored:
        op.add_column(DAY_ZERO, sa.Column('day', sa.Integer(), server_default='0', nullable=False))
        op.execute(f"ALTER TABLE {DAY_ZERO} DROP CONSTRAINT instance_files_pkey")
        op.execute(f"ALTER TABLE {DAY_ZERO} ADD CONSTRAINT {DAY_ZERO}_pkey PRIMARY KEY (instance_id, path_id, day)")
    else:
        op.drop_table(DAY_ZERO)
    op.create_table(
        'instance_files',
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('path_id', PATH_ID, nullable=False),
        sa.Column('kinds', sa.Integer(), nullable=False),
        sa.Column('first_seen_ns', sa.BigInteger(), nullable=False),
        sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
        sa.Column('file_type', sa.SmallInteger(), server_default='0', nullable=False),
        sa.Column('day', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('instance_id', 'path_id', 'day'),
        postgresql_partition_by='RANGE (day)',
    )
    if stored:
        op.execute(f"ALTER TABLE instance_files ATTACH PARTITION {DAY_ZERO} FOR VALUES FROM (0) TO (1)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE instance_files_merged (LIKE instance_files INCLUDING DEFAULTS)")
        op.execute("INSERT INTO instance_files_merged SELECT * FROM instance_files")
        op.drop_table('instance_files')  # with its partitions
        op.rename_table('instance_files_merged', 'instance_files')
        op.execute("ALTER TABLE instance_files ADD CONSTRAINT instance_files_pkey PRIMARY KEY (instance_id, path_id)")
    op.drop_column('instance_files', 'day')
    op.drop_column('container_instances', 'files_day')
