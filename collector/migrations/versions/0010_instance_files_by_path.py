"""instance files by path: an index from a path to the instances that used it, so a page's nodes column
reads each of its paths' ranges instead of probing every instance of the image for each path

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_instance_files_path', 'instance_files', ['path_id', 'instance_id', 'day'])


def downgrade() -> None:
    op.drop_index('ix_instance_files_path', table_name='instance_files')
