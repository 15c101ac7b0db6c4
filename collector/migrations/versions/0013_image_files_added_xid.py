"""image files added by: the transaction that added each merged row (PostgreSQL), so that a keep-list or a
diff's side is brought up to date from the rows added since it was read (reports/diff.py)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Rows already stored get 0 (no table rewrite): they predate every side read after this revision. SQLite keeps 0
in it and numbers its rows by rowid instead (one writer: rowids ascend in commit order).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('image_files', sa.Column('added_xid', sa.BigInteger(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE image_files ALTER COLUMN added_xid SET DEFAULT pg_current_xact_id()::text::bigint")
    op.create_index('ix_image_files_added', 'image_files', ['image_id', 'added_xid'])


def downgrade() -> None:
    op.drop_index('ix_image_files_added', table_name='image_files')
    op.drop_column('image_files', 'added_xid')
