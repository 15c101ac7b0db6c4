"""image files in path order (the first bytes of each path, indexed per image), and image revisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KEY_BYTES = 256  # collector.storage.models.PATH_KEY_BYTES when this revision was written


def upgrade() -> None:
    op.add_column('image_files', sa.Column('path_key', sa.LargeBinary(), server_default=sa.text("''"),
                                           nullable=False))
    first_bytes = "substring(path from 1 for {n})" if op.get_bind().dialect.name == "postgresql" \
        else "substr(path, 1, {n})"
    op.execute(f"UPDATE image_files SET path_key = (SELECT {first_bytes.format(n=KEY_BYTES)} FROM paths "
               "WHERE paths.id = image_files.path_id)")
    op.create_index('ix_image_files_order', 'image_files', ['image_id', 'path_key', 'file_type', 'path_id'])
    op.create_table('image_revisions',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('node', sa.String(length=253), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'node')
    )


def downgrade() -> None:
    op.drop_table('image_revisions')
    op.drop_index('ix_image_files_order', 'image_files')
    with op.batch_alter_table('image_files') as batch_op:
        batch_op.drop_column('path_key')
