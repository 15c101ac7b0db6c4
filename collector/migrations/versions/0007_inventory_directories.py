"""inventory directories: each inventory file's directory, and bytes and files summed per directory

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Self-contained (plain SQL as the schema stood at this revision): the sums of complete inventories are
computed here as collector.storage.write_inventory computes them at completion.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PATH_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
BATCH = 5000


def parent_of(path: bytes) -> bytes:
    return path[: path.rfind(b"/")] or b"/"


def intern(conn: sa.Connection, paths: set[bytes]) -> dict[bytes, int]:
    rows = [{"digest": hashlib.sha256(p).digest(), "path": p} for p in sorted(paths)]
    ids: dict[bytes, int] = {}
    for i in range(0, len(rows), BATCH):
        part = rows[i : i + BATCH]
        conn.execute(sa.text("INSERT INTO paths (digest, path) VALUES (:digest, :path) "
                             "ON CONFLICT (digest) DO NOTHING"), part)
        found = conn.execute(sa.text("SELECT digest, id FROM paths WHERE digest IN :digests")
                             .bindparams(sa.bindparam("digests", expanding=True)),
                             {"digests": [r["digest"] for r in part]}).all()
        by_digest: dict[bytes, int] = {d: i for d, i in found}
        ids.update({r["path"]: by_digest[r["digest"]] for r in part})
    return ids


def upgrade() -> None:
    op.add_column('inventory_files', sa.Column('directory_id', PATH_ID, server_default='0', nullable=False))
    op.create_index('ix_inventory_files_directory', 'inventory_files', ['image_id', 'directory_id'])
    op.create_table('inventory_directories',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('path_id', PATH_ID, nullable=False),
    sa.Column('parent_id', PATH_ID, nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('own_bytes', sa.BigInteger(), nullable=False),
    sa.Column('own_files', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'path_id')
    )
    op.create_index('ix_inventory_directories_parent', 'inventory_directories', ['image_id', 'parent_id'])
    conn = op.get_bind()
    files = conn.execute(sa.text("SELECT DISTINCT p.id, p.path FROM inventory_files f "
                                 "JOIN paths p ON p.id = f.path_id")).all()
    directories = intern(conn, {parent_of(path) for _, path in files})
    updates = [{"d": directories[parent_of(path)], "p": path_id} for path_id, path in files]
    for i in range(0, len(updates), BATCH):
        conn.execute(sa.text("UPDATE inventory_files SET directory_id = :d WHERE path_id = :p"), updates[i : i + BATCH])
    for (image_id,) in conn.execute(sa.text("SELECT image_id FROM inventories WHERE complete")).all():
        sum_directories(conn, image_id)


def sum_directories(conn: sa.Connection, image_id: int) -> None:
    own = conn.execute(sa.text("SELECT p.path, sum(f.size), count(*) FROM inventory_files f "
                               "JOIN paths p ON p.id = f.directory_id WHERE f.image_id = :i GROUP BY p.path"),
                       {"i": image_id}).all()
    sums: dict[bytes, list[int]] = {}
    for directory, size, count in own:
        sums.setdefault(directory, [0, 0, 0, 0])[2:] = [int(size), count]
        above = directory
        while True:
            entry = sums.setdefault(above, [0, 0, 0, 0])
            entry[0] += int(size)
            entry[1] += count
            if above == b"/":
                break
            above = parent_of(above)
    ids = intern(conn, set(sums))
    rows = [{"i": image_id, "p": ids[d], "parent": 0 if d == b"/" else ids[parent_of(d)], "b": b, "f": f,
             "ob": ob, "of": of} for d, (b, f, ob, of) in sums.items()]
    if rows:
        conn.execute(sa.text("INSERT INTO inventory_directories (image_id, path_id, parent_id, bytes, files, "
                             "own_bytes, own_files) VALUES (:i, :p, :parent, :b, :f, :ob, :of)"), rows)


def downgrade() -> None:
    op.drop_index('ix_inventory_directories_parent', 'inventory_directories')
    op.drop_table('inventory_directories')
    op.drop_index('ix_inventory_files_directory', 'inventory_files')
    with op.batch_alter_table('inventory_files') as batch_op:
        batch_op.drop_column('directory_id')
