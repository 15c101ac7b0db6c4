"""Writes one agent batch, idempotently: the same batch twice leaves the database as once.

Per container: upsert the image, its reference and the instance; intern the paths; insert the
instance's new files; fold exactly those new files into the per-image merge (``image_files``).
A replayed batch finds every file present, adds nothing and counts nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.storage.bulk import bulk_for
from collector.storage.known import KnownIds, Learned
from collector.storage.models import ContainerInstance, Image, ImageReference
from collector.storage.upsert import greatest, insert_for
from common.workload import workload_of

PATH_MAX = 4096
FILE_TYPES = range(5)  # snoop.v1.FileType
INT64_MAX = 2**63 - 1
# Column widths (collector/storage/models.py): longer values are refused here, never by the database.
TEXT_LIMITS = {"node": 253, "container_id": 128, "name": 253, "namespace": 253, "pod": 253, "pod_uid": 64,
               "image_digest": 255, "image_reference": 1024, "cgroup_path": 4096, "workload_kind": 64,
               "workload_name": 253}


class InvalidBatch(ValueError):
    """The batch breaks the contract; it is refused whole and must not be retried."""


@dataclass(frozen=True)
class FileIn:
    path: bytes
    kinds: int
    first_seen_ns: int
    last_seen_ns: int
    file_type: int = 0


@dataclass(frozen=True)
class ContainerIn:
    node: str
    container_id: str
    name: str
    namespace: str
    pod: str
    pod_uid: str
    image_digest: str
    image_reference: str
    cgroup_id: int
    cgroup_path: str
    workload_kind: str
    workload_name: str
    started_at_ns: int
    total_events: int
    dropped_events: int
    files: tuple[FileIn, ...]


def validate(c: ContainerIn) -> None:
    where = f"container {c.container_id or '?'} on node {c.node or '?'}"
    if not c.node or not c.container_id:
        raise InvalidBatch(f"{where}: node and container_id are required")
    if not c.image_digest:
        raise InvalidBatch(f"{where}: image_digest is required")
    for field_name, limit in TEXT_LIMITS.items():
        if len(getattr(c, field_name)) > limit:
            raise InvalidBatch(f"{where}: {field_name} is longer than {limit} characters")
    for field_name in ("cgroup_id", "started_at_ns", "total_events", "dropped_events"):
        if not 0 <= getattr(c, field_name) <= INT64_MAX:
            raise InvalidBatch(f"{where}: {field_name} is out of range")
    for f in c.files:
        if not f.path.startswith(b"/"):
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} is not absolute")
        if len(f.path) >= PATH_MAX or b"\0" in f.path:
            raise InvalidBatch(f"{where}: path {f.path[:100]!r}… is longer than PATH_MAX or holds NUL")
        if f.kinds <= 0 or f.kinds >= 32:
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} has invalid access kinds {f.kinds}")
        if f.file_type not in FILE_TYPES:
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} has an unknown file type {f.file_type}")
        if not (0 <= f.first_seen_ns <= INT64_MAX and 0 <= f.last_seen_ns <= INT64_MAX):
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} has times out of range")


def _upsert_image(session: Session, c: ContainerIn, now_ns: int, known: KnownIds, learned: Learned) -> int:
    image_id = known.image(c.image_digest, c.image_reference)
    if image_id is not None:
        return image_id
    stmt = insert_for(session, Image).values(digest=c.image_digest, first_seen_ns=now_ns, last_seen_ns=now_ns)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Image.digest], set_={"last_seen_ns": greatest(session, Image.last_seen_ns, now_ns)}
    ).returning(Image.id)
    image_id = session.execute(stmt).scalar_one()
    if c.image_reference:
        ref = insert_for(session, ImageReference).values(
            image_id=image_id, reference=c.image_reference, last_seen_ns=now_ns
        )
        session.execute(
            ref.on_conflict_do_update(
                index_elements=[ImageReference.image_id, ImageReference.reference],
                set_={"last_seen_ns": greatest(session, ImageReference.last_seen_ns, now_ns)},
            )
        )
    learned.images[(c.image_digest, c.image_reference)] = image_id
    return image_id


def _upsert_instance(session: Session, c: ContainerIn, image_id: int, now_ns: int) -> int:
    kind, name = (c.workload_kind, c.workload_name) if c.workload_name else workload_of(c.pod)
    values = {
        "node": c.node, "container_id": c.container_id, "name": c.name, "namespace": c.namespace,
        "pod": c.pod, "pod_uid": c.pod_uid, "image_id": image_id, "image_reference": c.image_reference,
        "cgroup_id": c.cgroup_id, "cgroup_path": c.cgroup_path, "workload_kind": kind,
        "workload_name": name, "started_at_ns": c.started_at_ns, "first_seen_ns": now_ns,
        "last_seen_ns": now_ns, "total_events": c.total_events, "dropped_events": c.dropped_events,
    }
    stmt = insert_for(session, ContainerInstance).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ContainerInstance.node, ContainerInstance.container_id],
        set_={
            "last_seen_ns": greatest(session, ContainerInstance.last_seen_ns, now_ns),
            "total_events": greatest(session, ContainerInstance.total_events, c.total_events),
            "dropped_events": greatest(session, ContainerInstance.dropped_events, c.dropped_events),
        },
    ).returning(ContainerInstance.id)
    return session.execute(stmt).scalar_one()


def path_digest(path: bytes) -> bytes:
    return hashlib.sha256(path).digest()


def _path_ids(session: Session, merged: dict[bytes, FileIn], known: KnownIds, learned: Learned) -> list[int]:
    """Ids of ``merged``'s paths, in order: from memory where known, else interned in one statement."""
    digests = [path_digest(p) for p in merged]
    ids = [known.path(d) for d in digests]
    missing = [i for i, path_id in enumerate(ids) if path_id is None]
    if missing:
        paths = list(merged)
        conn = session.connection()
        found = bulk_for(conn).intern_paths(conn, [digests[i] for i in missing], [paths[i] for i in missing])
        learned.paths.update(found)
        for i in missing:
            ids[i] = found[digests[i]]
    return ids  # type: ignore[return-value]


def _merge_files(
    session: Session, instance_id: int, image_id: int, files: tuple[FileIn, ...], known: KnownIds,
    learned: Learned,
) -> int:
    """Adds the instance's files; folds the new ones into image_files. Returns how many were new."""
    merged: dict[bytes, FileIn] = {}
    for f in files:  # one path twice in a batch: one row, kinds united
        seen = merged.get(f.path)
        merged[f.path] = f if seen is None else FileIn(
            f.path, seen.kinds | f.kinds, min(seen.first_seen_ns, f.first_seen_ns),
            max(seen.last_seen_ns, f.last_seen_ns), max(seen.file_type, f.file_type),
        )
    ids = _path_ids(session, merged, known, learned)
    rows = [(pid, f.kinds, f.first_seen_ns, f.last_seen_ns, f.file_type)
            for pid, f in zip(ids, merged.values(), strict=True)]
    conn = session.connection()
    return bulk_for(conn).add_files(conn, instance_id, image_id, rows)


@dataclass(frozen=True)
class Ingested:
    accepted: int      # new (container instance, file) rows
    learned: Learned   # ids to remember once the transaction has committed


def ingest(session: Session, containers: list[ContainerIn], now_ns: int, known: KnownIds | None = None) -> Ingested:
    """Validates everything first, then writes; the caller commits, then ``known.learn``s."""
    for c in containers:
        validate(c)
    known = known if known is not None else KnownIds(max_paths=0)
    learned = Learned()
    accepted = 0
    for c in containers:
        image_id = _upsert_image(session, c, now_ns, known, learned)
        instance_id = _upsert_instance(session, c, image_id, now_ns)
        if c.files:
            accepted += _merge_files(session, instance_id, image_id, c.files, known, learned)
    return Ingested(accepted, learned)
