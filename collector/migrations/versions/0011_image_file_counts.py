"""image file counts: how many merged rows each image has of each type, kept by triggers on ``image_files``,
so that an image's header and a page's total are read from a few rows instead of counted over 100,000

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Triggers, not the ingest code, keep them: every writer of ``image_files`` (ingest, retention, a migration)
moves them alike, and an upsert's old type, which decides the count a retyped row leaves, is known only
inside the database. PostgreSQL counts per statement from its transition tables (one statement per batch);
SQLite per row, and only for rows inserted, deleted or retyped (most of ingest's upserts change none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Each statement's changes, folded into the counts in key order (concurrent batches lock the rows alike).
FOLD = """
    INSERT INTO image_file_counts AS c (image_id, file_type, files)
    SELECT image_id, file_type, sum(n) FROM ({changes}) d GROUP BY image_id, file_type
    HAVING sum(n) <> 0 ORDER BY image_id, file_type
    ON CONFLICT (image_id, file_type) DO UPDATE SET files = c.files + excluded.files"""
POSTGRES = {
    "added": ("INSERT", "NEW TABLE AS added", "SELECT image_id, file_type, 1 AS n FROM added"),
    "removed": ("DELETE", "OLD TABLE AS removed", "SELECT image_id, file_type, -1 AS n FROM removed"),
    # Each updated row once in each table: the new versions counted in and the old ones out leave just the
    # retyped (no join: the transition tables have no statistics, and a nested loop over them cost ×2 ingest).
    "retyped": ("UPDATE", "OLD TABLE AS before NEW TABLE AS after",
                "SELECT image_id, file_type, 1 AS n FROM after UNION ALL SELECT image_id, file_type, -1 FROM before"),
}
COUNT = ("INSERT INTO image_file_counts (image_id, file_type, files) VALUES ({image}, {type}, {n}) "
         "ON CONFLICT (image_id, file_type) DO UPDATE SET files = files + excluded.files;")
SQLITE = {
    "added": ("AFTER INSERT ON image_files", COUNT.format(image="NEW.image_id", type="NEW.file_type", n=1)),
    "removed": ("AFTER DELETE ON image_files", COUNT.format(image="OLD.image_id", type="OLD.file_type", n=-1)),
    "retyped": ("AFTER UPDATE OF file_type ON image_files WHEN OLD.file_type <> NEW.file_type",
                COUNT.format(image="OLD.image_id", type="OLD.file_type", n=-1)
                + COUNT.format(image="NEW.image_id", type="NEW.file_type", n=1)),
}


def upgrade() -> None:
    op.create_table(
        'image_file_counts',
        sa.Column('image_id', sa.Integer(), nullable=False),
        sa.Column('file_type', sa.SmallInteger(), nullable=False),
        sa.Column('files', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('image_id', 'file_type'),
    )
    op.execute("INSERT INTO image_file_counts (image_id, file_type, files) "
               "SELECT image_id, file_type, count(*) FROM image_files WHERE image_id IN (SELECT id FROM images) "
               "GROUP BY image_id, file_type")
    if op.get_bind().dialect.name == "postgresql":
        for name, (event, tables, changes) in POSTGRES.items():
            op.execute(f"CREATE FUNCTION image_files_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       f"{FOLD.format(changes=changes)}; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER image_files_{name} AFTER {event} ON image_files REFERENCING {tables} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION image_files_{name}()")
        return
    for name, (event, body) in SQLITE.items():
        op.execute(f"CREATE TRIGGER image_files_{name} {event} BEGIN {body} END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in POSTGRES:
        op.execute(f"DROP TRIGGER image_files_{name}" + (" ON image_files" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION image_files_{name}()")
    op.drop_table('image_file_counts')
