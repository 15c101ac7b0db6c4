"""Writes one agent batch, idempotently: the same batch twice leaves the database as once.

Per container: upsert the image, its reference and the instance; intern the paths; insert the
instance's new files; fold exactly those new files into the per-image merge (``image_files``).
A replayed batch finds every file present, adds nothing and counts nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from collector.storage.models import ContainerInstance, Image, ImageFile, ImageReference, InstanceFile, Path
from collector.storage.upsert import greatest, insert_for, least
from common.workload import workload_of

PATH_MAX = 4096
CHUNK = 500


class InvalidBatch(ValueError):
    """The batch breaks the contract; it is refused whole and must not be retried."""


@dataclass(frozen=True)
class FileIn:
    path: bytes
    kinds: int
    first_seen_ns: int
    last_seen_ns: int


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
    for f in c.files:
        if not f.path.startswith(b"/"):
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} is not absolute")
        if len(f.path) >= PATH_MAX or b"\0" in f.path:
            raise InvalidBatch(f"{where}: path {f.path[:100]!r}… is longer than PATH_MAX or holds NUL")
        if f.kinds <= 0 or f.kinds >= 32:
            raise InvalidBatch(f"{where}: path {f.path[:100]!r} has invalid access kinds {f.kinds}")


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _upsert_image(session: Session, c: ContainerIn, now_ns: int) -> int:
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


def intern_paths(session: Session, paths: list[bytes]) -> dict[bytes, int]:
    """Path -> id, inserting the paths never seen before."""
    by_digest = {path_digest(p): p for p in paths}
    ids: dict[bytes, int] = {}
    for chunk in _chunks(list(by_digest)):
        rows = [{"digest": d, "path": by_digest[d]} for d in chunk]
        session.execute(insert_for(session, Path).on_conflict_do_nothing(index_elements=[Path.digest]), rows)
        for digest, path_id in session.execute(select(Path.digest, Path.id).where(Path.digest.in_(chunk))):
            ids[by_digest[digest]] = path_id
    return ids


def _merge_files(session: Session, instance_id: int, image_id: int, files: tuple[FileIn, ...]) -> int:
    """Adds the instance's files; folds the new ones into image_files. Returns how many were new."""
    merged: dict[bytes, FileIn] = {}
    for f in files:  # one path twice in a batch: one row, kinds united
        seen = merged.get(f.path)
        merged[f.path] = f if seen is None else FileIn(
            f.path, seen.kinds | f.kinds, min(seen.first_seen_ns, f.first_seen_ns),
            max(seen.last_seen_ns, f.last_seen_ns),
        )
    ids = intern_paths(session, list(merged))
    by_id = {ids[p]: f for p, f in merged.items()}
    existing: dict[int, int] = {}
    for chunk in _chunks(list(by_id)):
        q = select(InstanceFile.path_id, InstanceFile.kinds).where(
            InstanceFile.instance_id == instance_id, InstanceFile.path_id.in_(chunk)
        )
        existing.update((pid, kinds) for pid, kinds in session.execute(q))
    new = [pid for pid in by_id if pid not in existing]
    widened = {pid: existing[pid] | by_id[pid].kinds for pid in existing if existing[pid] | by_id[pid].kinds
               != existing[pid]}
    if new:
        session.execute(
            insert_for(session, InstanceFile),
            [
                {"instance_id": instance_id, "path_id": pid, "kinds": by_id[pid].kinds,
                 "first_seen_ns": by_id[pid].first_seen_ns, "last_seen_ns": by_id[pid].last_seen_ns}
                for pid in new
            ],
        )
        stmt = insert_for(session, ImageFile)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ImageFile.image_id, ImageFile.path_id],
            set_={
                "containers": ImageFile.containers + 1,
                "kinds": ImageFile.kinds.op("|")(stmt.excluded.kinds),
                "first_seen_ns": least(session, ImageFile.first_seen_ns, stmt.excluded.first_seen_ns),
                "last_seen_ns": greatest(session, ImageFile.last_seen_ns, stmt.excluded.last_seen_ns),
            },
        )
        session.execute(
            stmt,
            [
                {"image_id": image_id, "path_id": pid, "containers": 1, "kinds": by_id[pid].kinds,
                 "first_seen_ns": by_id[pid].first_seen_ns, "last_seen_ns": by_id[pid].last_seen_ns}
                for pid in new
            ],
        )
    for pid, kinds in widened.items():
        session.execute(
            update(InstanceFile)
            .where(tuple_(InstanceFile.instance_id, InstanceFile.path_id) == (instance_id, pid))
            .values(kinds=kinds)
        )
        session.execute(
            update(ImageFile)
            .where(ImageFile.image_id == image_id, ImageFile.path_id == pid)
            .values(kinds=ImageFile.kinds.op("|")(kinds))
        )
    return len(new)


def ingest(session: Session, containers: list[ContainerIn], now_ns: int) -> int:
    """Validates everything first, then writes; the caller commits. Returns new file rows."""
    for c in containers:
        validate(c)
    accepted = 0
    for c in containers:
        image_id = _upsert_image(session, c, now_ns)
        instance_id = _upsert_instance(session, c, image_id, now_ns)
        if c.files:
            accepted += _merge_files(session, instance_id, image_id, c.files)
    return accepted
