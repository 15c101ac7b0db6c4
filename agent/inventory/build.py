"""One image's inventory as the chunks the collector takes: files while the walk goes on, then packages,
then the closing chunk with totals and the databases that could not be read.

Nothing is held for the whole image: a chunk at a time, the hard-linked inodes seen so far and the
paths of language package databases met on the way.
"""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from snoop.agent.inventory.packages import is_language_db, read_packages
from snoop.agent.inventory.tree import Tree
from snoop.v1 import snoop_pb2 as pb


@dataclass(frozen=True)
class Upload:
    agent_id: str
    image_digest: str
    image_reference: str
    source: str  # "layers" | "rootfs"


def inventory_chunks(tree: Tree, upload: Upload, *, chunk_files: int = 5000,
                     prune: frozenset[bytes] = frozenset()) -> Iterator[pb.InventoryChunk]:
    upload_id = uuid.uuid4().hex
    index = 0

    def chunk(**fields: Any) -> pb.InventoryChunk:
        nonlocal index
        out = pb.InventoryChunk(agent_id=upload.agent_id, image_digest=upload.image_digest,
                                image_reference=upload.image_reference, upload_id=upload_id, index=index,
                                **fields)
        index += 1
        return out

    files: list[pb.InventoryFile] = []
    groups: dict[tuple[int, int], int] = {}  # (device, inode) of hard-linked files -> group
    language_dbs: list[bytes] = []
    total = 0
    for entry in tree.walk(prune=prune):
        mode = entry.st.st_mode
        if stat.S_ISREG(mode):
            group = 0
            if entry.st.st_nlink > 1:
                group = groups.setdefault((entry.st.st_dev, entry.st.st_ino), len(groups) + 1)
            files.append(pb.InventoryFile(path=entry.path, type=pb.FILE_TYPE_FILE, size=entry.st.st_size,
                                          link_group=group))
            if is_language_db(entry.path):
                language_dbs.append(entry.path)
        elif stat.S_ISLNK(mode):
            files.append(pb.InventoryFile(path=entry.path, type=pb.FILE_TYPE_SYMLINK,
                                          target=tree.link_target(entry)))
        else:
            continue
        total += 1
        if len(files) >= chunk_files:
            yield chunk(files=files)
            files = []
    if files:
        yield chunk(files=files)
    packages, errors = read_packages(tree, language_dbs)
    batch: list[pb.InventoryPackage] = []
    size = 0
    for p in packages:
        for i in range(0, max(len(p.files), 1), chunk_files):  # a huge package spans chunks
            part = p.files[i : i + chunk_files]
            batch.append(pb.InventoryPackage(type=p.type, name=p.name, version=p.version, purl=p.purl, files=part))
            size += len(part) + 1
            if size >= chunk_files:
                yield chunk(packages=batch)
                batch, size = [], 0
    done = pb.InventoryDone(source=upload.source, files=total, package_errors=[
        pb.PackageError(type=e.type, path=e.path, reason=e.reason) for e in errors])
    yield chunk(packages=batch, done=done)
