"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('image_files',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('containers', sa.Integer(), nullable=False),
    sa.Column('kinds', sa.Integer(), nullable=False),
    sa.Column('first_seen_ns', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('image_id', 'path_id')
    )
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=255), nullable=False),
    sa.Column('first_seen_ns', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )
    op.create_table('instance_files',
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kinds', sa.Integer(), nullable=False),
    sa.Column('first_seen_ns', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('instance_id', 'path_id')
    )
    op.create_table('paths',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('path', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )
    op.create_table('container_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node', sa.String(length=253), nullable=False),
    sa.Column('container_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('namespace', sa.String(length=253), nullable=False),
    sa.Column('pod', sa.String(length=253), nullable=False),
    sa.Column('pod_uid', sa.String(length=64), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('image_reference', sa.String(length=1024), nullable=False),
    sa.Column('cgroup_id', sa.BigInteger(), nullable=False),
    sa.Column('cgroup_path', sa.String(length=4096), nullable=False),
    sa.Column('workload_kind', sa.String(length=64), nullable=False),
    sa.Column('workload_name', sa.String(length=253), nullable=False),
    sa.Column('started_at_ns', sa.BigInteger(), nullable=False),
    sa.Column('first_seen_ns', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
    sa.Column('total_events', sa.BigInteger(), nullable=False),
    sa.Column('dropped_events', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('node', 'container_id', name='uq_container_instances_node_container')
    )
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_container_instances_image_id'), ['image_id'], unique=False)
        batch_op.create_index('ix_container_instances_pod', ['namespace', 'pod'], unique=False)
        batch_op.create_index('ix_container_instances_workload', ['namespace', 'workload_name'], unique=False)

    op.create_table('image_references',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=1024), nullable=False),
    sa.Column('last_seen_ns', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'reference')
    )
    with op.batch_alter_table('image_references', schema=None) as batch_op:
        batch_op.create_index('ix_image_references_reference', ['reference', 'last_seen_ns'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # room in each page, so that counting one more instance per file is a HOT update (no index write)
        op.execute("ALTER TABLE image_files SET (fillfactor = 70)")


def downgrade() -> None:
    with op.batch_alter_table('image_references', schema=None) as batch_op:
        batch_op.drop_index('ix_image_references_reference')

    op.drop_table('image_references')
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_container_instances_workload')
        batch_op.drop_index('ix_container_instances_pod')
        batch_op.drop_index(batch_op.f('ix_container_instances_image_id'))

    op.drop_table('container_instances')
    op.drop_table('paths')
    op.drop_table('instance_files')
    op.drop_table('images')
    op.drop_table('image_files')
