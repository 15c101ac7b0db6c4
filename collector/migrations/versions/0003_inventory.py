"""inventory: what each image holds, and which package owns which file

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

PATH_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('inventories',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.String(length=64), nullable=False),
    sa.Column('next_index', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('package_errors', sa.Text(), nullable=False),
    sa.Column('started_ns', sa.BigInteger(), nullable=False),
    sa.Column('completed_ns', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id')
    )
    op.create_table('inventory_files',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('path_id', PATH_ID, nullable=False),
    sa.Column('file_type', sa.SmallInteger(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('link_group', sa.BigInteger(), nullable=False),
    sa.Column('target', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('image_id', 'path_id')
    )
    op.create_table('packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('version', sa.String(length=256), nullable=False),
    sa.Column('purl', sa.String(length=2048), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'type', 'name', 'version', name='uq_packages_identity')
    )
    op.create_table('package_files',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('path_id', PATH_ID, nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('image_id', 'path_id', 'package_id')
    )


def downgrade() -> None:
    for table in ('package_files', 'packages', 'inventory_files', 'inventories'):
        op.drop_table(table)
