"""Writes image inventories, a chunk at a time, idempotently.

A chunk is taken only in order within its upload: index 0 starts the image's inventory over (unless it
is complete), a repeated chunk changes nothing, a chunk past the next expected one is refused (the
agent starts over). The last chunk completes the inventory once every file it announced has arrived;
then the totals the reports read (bytes with hard links once, files and bytes per package) are fixed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.models import (
    Image,
    Inventory,
    InventoryDirectory,
    InventoryFile,
    Package,
    PackageFile,
    Path,
)
from snoop.collector.storage.write import path_digest, upsert_image
from snoop.common.file_types import FILE, SYMLINK
from snoop.common.limits import INT64_MAX, PATH_MAX

TEXT_LIMITS = {name: getattr(Package, name).type.length for name in ("type", "name", "version", "purl")}
CHUNK = 900


@dataclass(frozen=True)
class EntryIn:
    path: bytes
    file_type: int
    size: int
    target: bytes | None
    link_group: int


@dataclass
class PackageIn:
    type: str
    name: str
    version: str
    purl: str
    files: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class DoneIn:
    source: str
    files: int
    package_errors: list[dict[str, str]]


@dataclass(frozen=True)
class ChunkIn:
    agent_id: str
    image_digest: str
    image_reference: str
    upload_id: str
    index: int
    files: list[EntryIn]
    packages: list[PackageIn]
    done: DoneIn | None


@dataclass(frozen=True)
class Outcome:
    complete: bool
    error: str = ""


def chunk_problem(c: ChunkIn) -> str | None:
    """Why a whole chunk cannot be taken; None when it can."""
    if not c.image_digest or len(c.image_digest) > 255 or not c.upload_id or len(c.upload_id) > 64:
        return "invalid-identity: image_digest and upload_id (at most 255 and 64 characters) are required"
    if len(c.agent_id) > 512 or len(c.image_reference) > 1024 or "\0" in c.image_digest + c.image_reference:
        return "invalid-identity: agent_id or image_reference too long or holding NUL"
    if c.done is not None and c.done.source not in ("layers", "rootfs"):
        return f"invalid-source: {c.done.source!r} is neither layers nor rootfs"
    return None


def entry_ok(e: EntryIn) -> bool:
    return (e.path.startswith(b"/") and len(e.path) < PATH_MAX and b"\0" not in e.path
            and e.file_type in (FILE, SYMLINK) and 0 <= e.size <= INT64_MAX and 0 <= e.link_group <= INT64_MAX)


def package_ok(p: PackageIn) -> bool:
    return bool(p.type and p.name) and all(
        len(getattr(p, k)) <= limit and "\0" not in getattr(p, k) for k, limit in TEXT_LIMITS.items())


def wanted(session: Session, digests: list[str]) -> list[str]:
    """Those of ``digests`` with no complete inventory."""
    complete = set(session.scalars(
        select(Image.digest).join(Inventory, Inventory.image_id == Image.id)
        .where(Image.digest.in_(digests), Inventory.complete.is_(True))))
    return [d for d in digests if d not in complete]


def put_chunk(session: Session, c: ChunkIn, now_ns: int) -> Outcome:
    """Stores one chunk; the caller commits."""
    image_id = upsert_image(session, c.image_digest, c.image_reference, now_ns)
    inv = session.get(Inventory, image_id, with_for_update=True)
    if inv is not None and inv.complete:
        if inv.upload_id == c.upload_id:
            return Outcome(complete=True)  # a repeat of a chunk of the upload that completed it
        return Outcome(False, "superseded: another upload completed this image's inventory")
    if c.index == 0 and (inv is None or inv.upload_id != c.upload_id):
        inv = _start(session, image_id, c, now_ns, inv)
    if inv is None or inv.upload_id != c.upload_id:
        return Outcome(False, "superseded: another upload of this image started since")
    if c.index < inv.next_index:
        return Outcome(False)  # a repeat: stored already
    if c.index > inv.next_index:
        return Outcome(False, f"out-of-order: chunk {c.index} came, {inv.next_index} was expected")
    good = [e for e in c.files if entry_ok(e)]
    inv.refused += len(c.files) - len(good)
    if good:
        _add_entries(session, image_id, good)
    if c.packages:
        _add_packages(session, image_id, [p for p in c.packages if package_ok(p)])
    inv.next_index += 1
    if c.done is None:
        return Outcome(False)
    return _complete(session, inv, c.done, now_ns)


def _start(session: Session, image_id: int, c: ChunkIn, now_ns: int, old: Inventory | None) -> Inventory:
    for table in (InventoryFile, PackageFile, Package):
        session.execute(delete(table).where(table.image_id == image_id))
    if old is not None:
        session.delete(old)
        session.flush()
    inv = Inventory(image_id=image_id, upload_id=c.upload_id, next_index=0, agent_id=c.agent_id, source="",
                    complete=False, files=0, bytes=0, refused=0, package_errors="[]", started_ns=now_ns,
                    completed_ns=0)
    session.add(inv)
    session.flush()
    return inv


def parent_of(path: bytes) -> bytes:
    """The directory holding ``path`` (absolute, normalised): ``/`` for ``/etc``."""
    return path[: path.rfind(b"/")] or b"/"


def _intern(session: Session, paths: set[bytes]) -> dict[bytes, int]:
    """path -> paths.id, files and directories alike."""
    conn = session.connection()
    ordered = sorted(paths)
    by_digest = dialect_of(conn).bulk.intern_paths(conn, [path_digest(p) for p in ordered], ordered)
    return {p: by_digest[path_digest(p)] for p in ordered}


def _add_entries(session: Session, image_id: int, entries: list[EntryIn]) -> None:
    by_path = {e.path: e for e in entries}
    ids = _intern(session, {*by_path, *map(parent_of, by_path)})
    rows = [{"image_id": image_id, "path_id": ids[p], "file_type": e.file_type, "size": e.size,
             "link_group": e.link_group, "target": e.target, "directory_id": ids[parent_of(p)]}
            for p, e in sorted(by_path.items(), key=lambda pe: ids[pe[0]])]
    insert = dialect_of(session).insert(InventoryFile)
    session.execute(insert.on_conflict_do_nothing(index_elements=[InventoryFile.image_id, InventoryFile.path_id]),
                    rows)


def _add_packages(session: Session, image_id: int, packages: list[PackageIn]) -> None:
    """Upserts the packages; owns each of their files that the inventory holds (other paths, such as
    the directories a dpkg list names, are no files of the image's)."""
    insert = dialect_of(session).insert(Package)
    owned: list[dict] = []
    for p in packages:
        stmt = insert.values(image_id=image_id, type=p.type, name=p.name, version=p.version, purl=p.purl,
                             files=0, bytes=0)
        stmt = stmt.on_conflict_do_update(index_elements=["image_id", "type", "name", "version"],
                                          set_={"purl": stmt.excluded.purl}).returning(Package.id)
        package_id = session.execute(stmt).scalar_one()
        owned += ({"image_id": image_id, "package_id": package_id, "digest": path_digest(f)} for f in set(p.files))
    if owned:
        session.execute(text(
            "INSERT INTO package_files (image_id, path_id, package_id) "
            "SELECT :image_id, f.path_id, :package_id FROM paths p "
            "JOIN inventory_files f ON f.path_id = p.id AND f.image_id = :image_id "
            "WHERE p.digest = :digest ON CONFLICT DO NOTHING"), owned)


def _complete(session: Session, inv: Inventory, done: DoneIn, now_ns: int) -> Outcome:
    image_id = inv.image_id
    rows = session.execute(select(InventoryFile.path_id, InventoryFile.size, InventoryFile.link_group,
                                  InventoryFile.file_type).where(InventoryFile.image_id == image_id)).all()
    if len(rows) + inv.refused != done.files:
        return Outcome(False, f"incomplete: {len(rows) + inv.refused} of {done.files} files arrived")
    inv.files = len(rows)
    inv.bytes = distinct_bytes((path_id, size, group) for path_id, size, group, _ in rows)
    inv.source = done.source
    inv.package_errors = json.dumps(done.package_errors)
    inv.complete = True
    inv.completed_ns = now_ns
    sizes = {path_id: (size, group) for path_id, size, group, _ in rows}
    owned: dict[int, list[int]] = defaultdict(list)
    for path_id, package_id in session.execute(
            select(PackageFile.path_id, PackageFile.package_id).where(PackageFile.image_id == image_id)):
        owned[package_id].append(path_id)
    updates = [{"id": pid, "files": len(paths),
                "bytes": distinct_bytes((p, *sizes[p]) for p in paths)} for pid, paths in owned.items()]
    if updates:
        session.execute(text("UPDATE packages SET files = :files, bytes = :bytes WHERE id = :id"), updates)
    _sum_directories(session, image_id)
    conn = session.connection()
    dialect_of(conn).analyze(conn, ("inventory_files", "inventory_directories", "package_files", "image_files"))
    return Outcome(True)


def _sum_directories(session: Session, image_id: int) -> None:
    """Each directory's own files summed by the database, then added to every directory above it here."""
    own = session.execute(select(Path.path, func.sum(InventoryFile.size), func.count())
                          .join(Path, Path.id == InventoryFile.directory_id)
                          .where(InventoryFile.image_id == image_id).group_by(Path.path)).all()
    sums: dict[bytes, list[int]] = {}  # directory -> [bytes, files, own bytes, own files]
    for directory, size, files in own:
        sums.setdefault(directory, [0, 0, 0, 0])[2:] = [int(size), files]
        above = directory
        while True:
            entry = sums.setdefault(above, [0, 0, 0, 0])
            entry[0] += int(size)
            entry[1] += files
            if above == b"/":
                break
            above = parent_of(above)
    ids = _intern(session, set(sums))
    rows = [{"image_id": image_id, "path_id": ids[d], "parent_id": 0 if d == b"/" else ids[parent_of(d)],
             "bytes": b, "files": f, "own_bytes": ob, "own_files": of} for d, (b, f, ob, of) in sums.items()]
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(InventoryDirectory), rows[i : i + CHUNK])


def distinct_bytes(rows) -> int:  # noqa: ANN001 - (path_id, size, link_group) tuples
    """Bytes with each hard-linked inode counted once."""
    seen: set[int] = set()
    total = 0
    for _path_id, size, group in rows:
        if group:
            if group in seen:
                continue
            seen.add(group)
        total += size
    return total
