"""Slim images snoop built, and the base each was built from (their config's label, as agents report it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slim_images',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('base_digest', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id')
    )
    op.create_index('ix_slim_images_base', 'slim_images', ['base_digest'])


def downgrade() -> None:
    op.drop_index('ix_slim_images_base', 'slim_images')
    op.drop_table('slim_images')
