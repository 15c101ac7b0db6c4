"""file type: directories and runtime mounts apart from the image's files

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('instance_files', 'image_files'):
        op.add_column(table, sa.Column('file_type', sa.SmallInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    for table in ('instance_files', 'image_files'):
        op.drop_column(table, 'file_type')
