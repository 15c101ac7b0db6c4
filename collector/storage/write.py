"""Writes one agent batch, idempotently: the same batch twice leaves the database as once.

What breaks the contract is refused as narrowly as possible: a bad path alone, a container whose identity
is unusable whole, never its neighbours in the batch (``screen``).

Per container: upsert the image, its reference and the instance. Then, for the whole batch at once: intern
the paths, insert the instances' new files, fold exactly those new files into the per-image merge
(``image_files``). A replayed batch finds every file present, adds nothing and counts nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from snoop.collector.storage.bulk import FileRow
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.known import KnownIds, Learned
from snoop.collector.storage.models import (
    PATH_KEY_BYTES,
    ContainerInstance,
    Image,
    ImageReference,
    ImageRevision,
    SlimImage,
    day_of,
)
from snoop.collector.storage.spread import node_key
from snoop.common.file_types import NAMES
from snoop.common.kinds import ALL as ALL_KINDS
from snoop.common.limits import INT64_MAX, PATH_MAX
from snoop.common.workload import workload_of

FILE_TYPES = range(len(NAMES))  # snoop.v1.FileType
# Each text field and the column that stores it: longer values are refused here, never by the database.
_COLUMNS = {**{name: getattr(ContainerInstance, name) for name in (
    "node", "container_id", "name", "namespace", "pod", "pod_uid", "cgroup_path", "workload_kind", "workload_name")},
    "image_digest": Image.digest, "image_reference": ImageReference.reference, "base_digest": SlimImage.base_digest}
TEXT_LIMITS = {field: column.type.length for field, column in _COLUMNS.items()}


@dataclass(frozen=True)
class Refusal:
    """What was not stored, and why; ``path`` empty: the whole container (``files`` of them)."""

    container_id: str
    path: bytes
    reason: str
    files: int
    detail: str


# (path, kinds, first_seen_ns, last_seen_ns, file_type): one file as the agent reported it. A plain tuple
# from the message to the database: a batch holds thousands, and an object per file cost more than its write.
FileIn = tuple[bytes, int, int, int, int]


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
    observed_from_ns: int = 0   # 0: since this message
    observed_until_ns: int = 0  # 0: now
    base_digest: str = ""       # the image is a slim image of this base

    def observed(self, now_ns: int) -> tuple[int, int]:
        """(from, until) of the sender's watch, capped at arrival: a report of last month keeps its times,
        a clock ahead of the collector's moves nothing into the future."""
        until = min(self.observed_until_ns or now_ns, now_ns)
        return min(self.observed_from_ns or until, until), until


def container_problem(c: ContainerIn) -> tuple[str, str] | None:
    """(reason, detail) when the container's identity cannot be stored: it is refused whole."""
    if not c.node or not c.container_id:
        return "missing-identity", "node and container_id are required"
    if not c.image_digest:
        return "missing-image-digest", "image_digest is required"
    for field_name, limit in TEXT_LIMITS.items():
        value = getattr(c, field_name)
        if len(value) > limit:
            return "field-too-long", f"{field_name} is longer than {limit} characters"
        if "\0" in value:
            return "nul-in-field", f"{field_name} holds a NUL character"
    for field_name in ("cgroup_id", "started_at_ns", "total_events", "dropped_events", "observed_from_ns",
                       "observed_until_ns"):
        if not 0 <= getattr(c, field_name) <= INT64_MAX:
            return "out-of-range", f"{field_name} is out of range"
    return None


def file_problem(f: FileIn) -> tuple[str, str] | None:
    """(reason, detail) when one file cannot be stored: it alone is refused."""
    path, kinds, first_seen_ns, last_seen_ns, file_type = f
    if not path.startswith(b"/"):
        return "path-not-absolute", "the path is not absolute"
    if len(path) >= PATH_MAX:
        return "path-too-long", f"the path is {len(path)} bytes, PATH_MAX is {PATH_MAX}"
    if b"\0" in path:
        return "nul-in-path", "the path holds a NUL byte"
    if not 0 < kinds <= ALL_KINDS:
        return "invalid-kinds", f"invalid access kinds {kinds}"
    if file_type not in FILE_TYPES:
        return "invalid-type", f"unknown file type {file_type}"
    if not (0 <= first_seen_ns <= INT64_MAX and 0 <= last_seen_ns <= INT64_MAX):
        return "out-of-range", "times out of range"
    return None


def _all_good(files: tuple[FileIn, ...]) -> bool:
    """``file_problem`` finds nothing in any of ``files``: its tests inline, the common case at its cost."""
    return all(p[:1] == b"/" and len(p) < PATH_MAX and b"\0" not in p and 0 < k <= ALL_KINDS and t in FILE_TYPES
               and 0 <= a <= INT64_MAX and 0 <= b <= INT64_MAX for p, k, a, b, t in files)


def screen(containers: list[ContainerIn]) -> tuple[list[ContainerIn], list[Refusal]]:
    """What can be stored, and a refusal for each part that cannot."""
    kept: list[ContainerIn] = []
    refused: list[Refusal] = []
    for c in containers:
        problem = container_problem(c)
        if problem is not None:
            refused.append(Refusal(c.container_id, b"", problem[0], len(c.files), problem[1]))
            continue
        if _all_good(c.files):
            kept.append(c)
            continue
        files = []
        for f in c.files:
            bad = file_problem(f)
            if bad is None:
                files.append(f)
            else:
                refused.append(Refusal(c.container_id, f[0][:PATH_MAX], bad[0], 1, bad[1]))
        kept.append(replace(c, files=tuple(files)))
    return kept, refused


def upsert_image(session: Session, digest: str, reference: str, now_ns: int) -> int:
    """The image's id, created or seen now; ``reference`` (if any) recorded as one of its names."""
    stmt = dialect_of(session).insert(Image).values(digest=digest, first_seen_ns=now_ns, last_seen_ns=now_ns)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Image.digest], set_={"last_seen_ns": dialect_of(session).greatest(Image.last_seen_ns, now_ns)}
    ).returning(Image.id)
    image_id = session.execute(stmt).scalar_one()
    if reference:
        ref = dialect_of(session).insert(ImageReference).values(
            image_id=image_id, reference=reference, last_seen_ns=now_ns
        )
        session.execute(
            ref.on_conflict_do_update(
                index_elements=[ImageReference.image_id, ImageReference.reference],
                set_={"last_seen_ns": dialect_of(session).greatest(ImageReference.last_seen_ns, now_ns)},
            )
        )
    return image_id


def _upsert_image(session: Session, c: ContainerIn, now_ns: int, known: KnownIds, learned: Learned) -> int:
    image_id = known.image(c.image_digest, c.image_reference)
    if image_id is not None:
        return image_id
    image_id = upsert_image(session, c.image_digest, c.image_reference, c.observed(now_ns)[1])
    if c.base_digest:
        stmt = dialect_of(session).insert(SlimImage).values(image_id=image_id, base_digest=c.base_digest)
        session.execute(stmt.on_conflict_do_nothing(index_elements=[SlimImage.image_id]))
    learned.images[(c.image_digest, c.image_reference)] = image_id
    return image_id


def _upsert_instance(session: Session, c: ContainerIn, image_id: int, now_ns: int) -> tuple[int, int]:
    """(id, files_day): the day its files go under, read under the row's lock, which retention takes to
    move them (days.py)."""
    kind, name = (c.workload_kind, c.workload_name) if c.workload_name else workload_of(c.pod)
    seen_from, seen_until = c.observed(now_ns)
    dialect = dialect_of(session)
    values = {
        "node": c.node, "container_id": c.container_id, "name": c.name, "namespace": c.namespace,
        "pod": c.pod, "pod_uid": c.pod_uid, "image_id": image_id, "image_reference": c.image_reference,
        "cgroup_id": c.cgroup_id, "cgroup_path": c.cgroup_path, "workload_kind": kind,
        "workload_name": name, "started_at_ns": c.started_at_ns, "first_seen_ns": seen_from,
        "last_seen_ns": seen_until, "total_events": c.total_events, "dropped_events": c.dropped_events,
        "files_day": day_of(now_ns),
    }
    stmt = dialect.insert(ContainerInstance).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ContainerInstance.node, ContainerInstance.container_id],
        set_={
            "first_seen_ns": dialect.least(ContainerInstance.first_seen_ns, seen_from),
            "last_seen_ns": dialect.greatest(ContainerInstance.last_seen_ns, seen_until),
            "total_events": dialect.greatest(ContainerInstance.total_events, c.total_events),
            "dropped_events": dialect.greatest(ContainerInstance.dropped_events, c.dropped_events),
        },
    ).returning(ContainerInstance.id, ContainerInstance.files_day)
    instance_id, files_day = session.execute(stmt).one()
    return instance_id, files_day


def path_digest(path: bytes) -> bytes:
    return hashlib.sha256(path).digest()


def _distinct(files: list[FileIn]) -> list[FileIn]:
    """One row per path, in path order; one path twice in a container's files: kinds united, the widest times.
    In path order, new paths get ids in that order, so each index takes a batch's rows as ascending runs."""
    if len({f[0] for f in files}) == len(files):
        return sorted(files)
    merged: dict[bytes, FileIn] = {}
    for f in files:
        seen = merged.get(f[0])
        merged[f[0]] = f if seen is None else (
            f[0], seen[1] | f[1], min(seen[2], f[2]), max(seen[3], f[3]), max(seen[4], f[4]))
    return sorted(merged.values())


def _path_ids(session: Session, paths: list[bytes], known: KnownIds, learned: Learned) -> list[int]:
    """Ids of ``paths``, in order: from memory where known, else interned in one statement."""
    ids = known.paths(paths)
    missing = sorted({p for p, path_id in zip(paths, ids, strict=True) if path_id is None})
    if missing:
        conn = session.connection()
        digests = [path_digest(p) for p in missing]
        by_digest = dialect_of(conn).bulk.intern_paths(conn, digests, missing)
        found = {p: by_digest[d] for p, d in zip(missing, digests, strict=True)}
        learned.paths.update(found)
        ids = [found[p] if i is None else i for p, i in zip(paths, ids, strict=True)]
    return ids  # type: ignore[return-value]


@dataclass(frozen=True)
class Ingested:
    accepted: int      # new (container instance, file) rows
    learned: Learned   # ids to remember once the transaction has committed


def _file_rows(session: Session, files: dict[tuple[int, int], tuple[int, int, list[FileIn]]], known: KnownIds,
               learned: Learned, now_ns: int) -> list[FileRow]:
    """The bulk writer's rows of ``files`` ((instance, its day) -> its image, its node's key and files), times
    capped at arrival."""
    owned = [(instance, image, node, f) for instance, (image, node, fs) in files.items() for f in _distinct(fs)]
    ids = _path_ids(session, [f[0] for *_, f in owned], known, learned)
    return [(instance, image, path_id, kinds, min(first, now_ns), min(last, now_ns), file_type, path[:PATH_KEY_BYTES],
             day, node) for ((instance, day), image, node, (path, kinds, first, last, file_type)), path_id
            in zip(owned, ids, strict=True)]


def ingest(session: Session, containers: list[ContainerIn], now_ns: int, known: KnownIds | None = None) -> Ingested:
    """Writes containers that passed ``screen``; the caller commits, then ``known.learn``s.

    Each container's instance row, then every file of the batch in one bulk write (a container twice in
    a batch is one instance: its files are united). The revisions move before the files are written: their
    rows are what retention takes turns on with ingest (spread.py)."""
    known = known if known is not None else KnownIds(max_paths=0)
    learned = Learned()
    files: dict[tuple[int, int], tuple[int, int, list[FileIn]]] = {}  # (instance, its day) -> (image, node, files)
    changed: set[tuple[int, str]] = set()
    # In key order, so that concurrent batches lock the images and instances they share alike.
    for c in sorted(containers, key=lambda c: (c.image_digest, c.image_reference, c.node, c.container_id)):
        image_id = _upsert_image(session, c, now_ns, known, learned)
        instance = _upsert_instance(session, c, image_id, now_ns)
        if c.files:
            files.setdefault(instance, (image_id, node_key(c.node), []))[2].extend(c.files)
            changed.add((image_id, c.node))
    bump_revisions(session, changed)
    rows = _file_rows(session, files, known, learned, now_ns)
    conn = session.connection()
    accepted = dialect_of(conn).bulk.add_files(conn, rows) if rows else 0
    return Ingested(accepted, learned)


def bump_revisions(session: Session, changed: Iterable[tuple[int, str]]) -> None:
    """Marks what each (image, node) contributes as changed: what cached reports are checked against. In
    key order, so concurrent writers lock the rows alike."""
    for image_id, node in sorted(set(changed)):
        stmt = dialect_of(session).insert(ImageRevision).values(image_id=image_id, node=node, revision=1)
        session.execute(stmt.on_conflict_do_update(index_elements=[ImageRevision.image_id, ImageRevision.node],
                                                   set_={"revision": ImageRevision.revision + 1}))
