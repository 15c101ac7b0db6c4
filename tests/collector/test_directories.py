"""The treemap of a directory from the sums kept per directory, against a brute-force sum of the inventory."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.grpc.messages import chunk_from_pb
from snoop.collector.reports.directories import subtree
from snoop.collector.reports.images import find_image
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from snoop.collector.storage.models import InventoryDirectory
from snoop.collector.storage.retention import remove_image
from snoop.collector.storage.write import ingest, path_digest
from snoop.collector.storage.write_inventory import put_chunk
from snoop.collector.web.treemap import Node, nodes
from snoop.v1 import snoop_pb2 as pb
from tests.collector.conftest import container

DIGEST = "sha256:aaa"
FILES = {
    b"/usr/bin/a": 100, b"/usr/bin/b": 200, b"/usr/lib/x/1.so": 1000, b"/usr/lib/x/2.so": 2000,
    b"/usr/lib/y/z/deep": 50, b"/usr/lib/top.so": 300, b"/etc/passwd": 10, b"/etc/caf\xe9": 7,
    **{b"/opt/app/data/f%02d" % i: i + 1 for i in range(50)},
}
USED = [b"/usr/bin/a", b"/usr/lib/x/2.so", b"/usr/lib/y/z/deep", b"/etc/passwd", b"/opt/app/data/f49",
        b"/opt/app/data/f00"]


def store(sessions: sessionmaker[Session], files: dict[bytes, int] = FILES, upload: str = "u1") -> None:
    items = sorted(files.items())
    for index in range(0, len(items), 7):
        chunk = pb.InventoryChunk(agent_id="a", image_digest=DIGEST, image_reference="app:1", upload_id=upload,
                                  index=index // 7, files=[pb.InventoryFile(path=p, type=pb.FILE_TYPE_FILE, size=s)
                                                           for p, s in items[index : index + 7]])
        with sessions.begin() as s:
            put_chunk(s, chunk_from_pb(chunk), 1)
    done = pb.InventoryChunk(agent_id="a", image_digest=DIGEST, upload_id=upload, index=(len(items) + 6) // 7,
                             done=pb.InventoryDone(source="layers", files=len(items)))
    with sessions.begin() as s:
        assert put_chunk(s, chunk_from_pb(done), 1).complete


def brute_force(files: dict[bytes, int], used: list[bytes], directory: bytes) -> dict[bytes, tuple]:
    """first component -> (bytes, used bytes, files, used files, {second: same}), from every file."""
    base = directory.rstrip(b"/") + b"/"
    out: dict[bytes, list] = {}
    for path, size in files.items():
        if not path.startswith(base):
            continue
        parts = path[len(base):].split(b"/")
        second = (parts[1] if len(parts) > 2 else b"") if len(parts) > 1 else None
        for entry in (out.setdefault(parts[0], [0, 0, 0, 0, {}]),
                      *([out[parts[0]][4].setdefault(second, [0, 0, 0, 0, {}])] if second is not None else [])):
            entry[0] += size
            entry[2] += 1
            if path in used:
                entry[1] += size
                entry[3] += 1
    return {k: (b, ub, f, uf, {s: tuple(v[:4]) for s, v in inner.items()}) for k, (b, ub, f, uf, inner) in out.items()}


def drawn(tree: list[Node], base: bytes) -> dict[bytes, tuple]:
    def key(n: Node, under: bytes) -> bytes:
        return b"" if n.path == under else n.path[len(under.rstrip(b"/")) + 1:]
    return {key(n, base): (n.bytes, n.used_bytes, n.files, n.used_files,
                           {key(i, n.path): (i.bytes, i.used_bytes, i.files, i.used_files) for i in n.inner})
            for n in tree}


def used_image(sessions: sessionmaker[Session]) -> None:
    """FILES inventoried, USED used by one container."""
    store(sessions)
    with sessions.begin() as s:
        ingest(s, [container(digest=DIGEST, files={p: 1 for p in USED})], 2)


def test_each_directory_equals_the_sum_of_its_files(sessions: sessionmaker[Session]) -> None:
    used_image(sessions)
    with sessions() as s:
        image = find_image(s, DIGEST)
        assert image is not None
        for directory in (b"/", b"/usr", b"/usr/lib", b"/etc"):
            sub = subtree(s, image, directory, 100)
            assert sub is not None and sub.shown.path == directory
            assert drawn(nodes(sub), directory) == brute_force(FILES, USED, directory), directory
        lone = subtree(s, image, b"/opt", 100)  # holds one directory and no file: drawn from the one below
        assert lone is not None and lone.shown.path == b"/opt/app/data"
        assert subtree(s, image, b"/nowhere", 100) is None


def test_the_largest_files_are_tiles_and_the_rest_one(sessions: sessionmaker[Session]) -> None:
    used_image(sessions)
    with sessions() as s:
        image = find_image(s, DIGEST)
        assert image is not None
        sub = subtree(s, image, b"/opt/app/data", 5)
        assert sub is not None
        tiles = {n.name: (n.bytes, n.files, n.used_files) for n in nodes(sub)}
    assert tiles == {"f49": (50, 1, 1), "f48": (49, 1, 0), "f47": (48, 1, 0), "f46": (47, 1, 0), "f45": (46, 1, 0),
                     "45 more files": (sum(range(1, 46)), 45, 1)}


def test_the_sums_go_with_their_image(sessions: sessionmaker[Session]) -> None:
    store(sessions)
    with sessions.begin() as s:
        image = find_image(s, DIGEST)
        assert image is not None
        assert s.scalar(select(func.count()).where(InventoryDirectory.image_id == image.id)) == 11
        remove_image(s, image.id)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(InventoryDirectory)) == 0


def test_the_migration_sums_inventories_stored_before_it(db_url: str) -> None:
    """An inventory written by the 0006 schema (no directories) is summed by the upgrade."""
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO images (id, digest, first_seen_ns, last_seen_ns) "
                                "VALUES (1, :d, 1, 1)"), {"d": DIGEST})
        connection.execute(text("INSERT INTO inventories (image_id, upload_id, next_index, agent_id, source, complete, "
                                "files, bytes, refused, package_errors, started_ns, completed_ns) "
                                "VALUES (1, 'u1', 1, 'a', 'layers', :t, :n, 0, 0, '[]', 1, 1)"),
                           {"t": True, "n": len(FILES)})
        for n, (path, size) in enumerate(sorted(FILES.items()), start=1):
            connection.execute(text("INSERT INTO paths (id, digest, path) VALUES (:i, :d, :p)"),
                               {"i": n, "d": path_digest(path), "p": path})
            connection.execute(text("INSERT INTO inventory_files (image_id, path_id, file_type, size, link_group) "
                                    "VALUES (1, :i, 1, :s, 0)"), {"i": n, "s": size})
        if engine.dialect.name == "postgresql":  # ids were given: the sequence must move past them
            connection.execute(text("SELECT setval('paths_id_seq', (SELECT max(id) FROM paths))"))
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        image = find_image(s, DIGEST)
        assert image is not None
        sub = subtree(s, image, b"/", 100)
        assert sub is not None and drawn(nodes(sub), b"/") == brute_force(FILES, [], b"/")
    engine.dispose()
