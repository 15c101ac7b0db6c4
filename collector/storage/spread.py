"""On how many nodes each of an image's paths was used: ``image_files.nodes``, read with the merged row, so a
page's nodes column costs nothing (joining each path to the instances that used it cost a page half its
time, and the index from paths to instances cost ingest a third of its rate and decayed it as it grew).

``image_node_paths`` holds one row per (image, node, path) once an instance of the image on that node used
the path. Ingest adds the rows it lacks and counts each in the merged row (storage/bulk.py). Like the merged
row's ``containers``, a node keeps counting for the paths its expired instances used while it still runs
the image; once retention has removed its last instance of the image, its rows go and are counted out
(``forget``): a cost of the rows it had, once. Counting only the paths of kept instances would read every
kept instance's files again at each retention pass (a month of churn of one image on one node: 35 s of
retention's 41).

Ingest and retention both take the (image, node)'s revision row first (storage/write.py), so on PostgreSQL a
retention pass never forgets a node whose new instance is being written, nor does that ingest miss the
rows retention just removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from snoop.collector.storage.models import ContainerInstance

FORGET = text("DELETE FROM image_node_paths WHERE image_id = :image AND node_key = :key RETURNING path_id")
COUNT_OUT = text("UPDATE image_files SET nodes = nodes - 1 WHERE image_id = :image AND path_id = :path")


def node_key(node: str) -> int:
    """A node's name as a signed 64-bit key: the first 8 bytes of its sha256, as paths are known by theirs
    (names are up to 253 characters, repeated in every row otherwise)."""
    return int.from_bytes(hashlib.sha256(node.encode()).digest()[:8], "big", signed=True)


def forget(session: Session, gone: Iterable[tuple[int, str]]) -> None:
    """After instances of these (image, node)s went: the nodes left with no instance of the image count no
    more for its paths. In key order, as ingest locks them."""
    for image_id, node in sorted(set(gone)):
        if session.scalar(select(exists().where(ContainerInstance.image_id == image_id,
                                                ContainerInstance.node == node))):
            continue
        dropped = session.execute(FORGET, {"image": image_id, "key": node_key(node)}).scalars().all()
        if dropped:
            session.execute(COUNT_OUT, [{"image": image_id, "path": p} for p in sorted(dropped)])
