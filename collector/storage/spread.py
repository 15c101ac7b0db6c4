"""On how many nodes each of an image's paths was used: ``image_files.nodes``, read with the merged row, so a
page's nodes column costs nothing (joining each path to the instances that used it cost a page half its
time, and the index from paths to instances cost ingest a third of its rate and decayed it as it grew).

``image_node_paths`` holds one row per (image, node, path) while a kept instance of the image on that node
used the path. Ingest adds the rows it lacks and counts each in the merged row (storage/bulk.py); when
instances go, the rows of their nodes that no kept instance backs go too and are counted out (``forget``).
Both take the (image, node)'s revision row first (storage/write.py), so on PostgreSQL an ingest and a
retention pass on the same node take turns instead of each missing the other's uncommitted rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

# The rows no kept instance of the image on that node backs any more.
UNBACKED = text("""
    DELETE FROM image_node_paths WHERE image_id = :image AND node_key = :key AND NOT EXISTS (
        SELECT 1 FROM container_instances c JOIN instance_files f ON f.instance_id = c.id AND f.day = c.files_day
        WHERE c.image_id = :image AND c.node = :node AND f.path_id = image_node_paths.path_id)
    RETURNING path_id""")
COUNT_OUT = text("UPDATE image_files SET nodes = nodes - 1 WHERE image_id = :image AND path_id = :path")


def node_key(node: str) -> int:
    """A node's name as a signed 64-bit key: the first 8 bytes of its sha256, as paths are known by theirs
    (names are up to 253 characters, repeated in every row otherwise)."""
    return int.from_bytes(hashlib.sha256(node.encode()).digest()[:8], "big", signed=True)


def forget(session: Session, gone: Iterable[tuple[int, str]]) -> None:
    """After instances of these (image, node)s went: the paths no kept instance there used count that node
    no more. In key order, as ingest locks them."""
    for image_id, node in sorted(set(gone)):
        dropped = session.execute(UNBACKED, {"image": image_id, "key": node_key(node), "node": node}).scalars().all()
        if dropped:
            session.execute(COUNT_OUT, [{"image": image_id, "path": p} for p in sorted(dropped)])
