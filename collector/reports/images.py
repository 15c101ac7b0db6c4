"""Read side for images: listings and the merged per-image file usage. No FastAPI here."""

from __future__ import annotations

import difflib
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, null, select
from sqlalchemy.orm import Session

from snoop.collector.reports.contents import image_bytes, inventory_of, owner
from snoop.collector.reports.filters import FileFilter, Page, fetch_all, prefix_range
from snoop.collector.storage.models import (
    PATH_KEY_BYTES,
    ContainerInstance,
    Image,
    ImageFile,
    ImageFileCount,
    ImageReference,
    InventoryFile,
    Path,
)
from snoop.common.file_types import DIR, KEEP
from snoop.common.references import digest_prefix, normalise


def image_summaries(
    session: Session, page: Page, digests: list[str] | None = None, namespace: str | None = None,
    since_ns: int = 0, with_bytes: bool = True,
) -> tuple[list[dict], int]:
    """A page of images, newest first, with their counts; counted only for the images of the page.
    ``with_bytes=False`` leaves bytes for the caller that has them already (the summary)."""
    q = select(Image).order_by(Image.last_seen_ns.desc(), Image.id)
    if digests is not None:
        q = q.where(Image.digest.in_(digests))
    if namespace:
        q = q.where(Image.id.in_(select(ContainerInstance.image_id).where(ContainerInstance.namespace == namespace)))
    if since_ns:
        q = q.where(Image.last_seen_ns >= since_ns)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    images = session.scalars(page.apply(q)).all()
    ids = [image.id for image in images]
    containers = dict(session.execute(select(ContainerInstance.image_id, func.count())
                                      .where(ContainerInstance.image_id.in_(ids))
                                      .group_by(ContainerInstance.image_id)).all())
    # One count of used files everywhere: files and symlinks (and paths a pushed report left untyped);
    # directories apart, runtime mounts not the image's.
    counts = type_counts(session, ids)
    files = {i: (sum(n for t, n in c.items() if t in KEEP), c.get(DIR, 0)) for i, c in counts.items()}
    refs: dict[int, list[str]] = {}
    for image_id, reference in session.execute(
        select(ImageReference.image_id, ImageReference.reference)
        .where(ImageReference.image_id.in_(ids))
        .order_by(ImageReference.last_seen_ns.desc(), ImageReference.reference)
    ):
        refs.setdefault(image_id, []).append(reference)
    sizes = image_bytes(session, ids) if with_bytes else {}
    out = [
        {
            "id": image.id,
            "digest": image.digest,
            "references": refs.get(image.id, []),
            "containers": containers.get(image.id, 0),
            "files": files.get(image.id, (0, 0))[0],
            "directories": files.get(image.id, (0, 0))[1],
            "bytes": sizes.get(image.id, (None, None))[0],
            "used_bytes": sizes.get(image.id, (None, None))[1],
            "first_seen_ns": image.first_seen_ns,
            "last_seen_ns": image.last_seen_ns,
        }
        for image in images
    ]
    return out, total


def find_image(session: Session, key: str) -> Image | None:
    """``key`` is a digest, a unique digest prefix of 12+ hex digits, or a reference as users type it
    (``busybox``, ``app`` for ``app:latest``): the digest most recently seen under it."""
    image = session.scalar(select(Image).where(Image.digest == key))
    if image is not None:
        return image
    image = session.scalar(
        select(Image)
        .join(ImageReference, ImageReference.image_id == Image.id)
        .where(ImageReference.reference.in_({key, normalise(key)}))
        .order_by(ImageReference.last_seen_ns.desc())
        .limit(1)
    )
    if image is not None:
        return image
    prefix = digest_prefix(key)
    if prefix is None:
        return None
    matches = session.scalars(select(Image).where(Image.digest.startswith(prefix)).limit(2)).all()
    return matches[0] if len(matches) == 1 else None


def closest_references(session: Session, key: str, n: int = 3) -> list[str]:
    """Known references and digests nearest to ``key``: what a 404 suggests."""
    known = [*session.scalars(select(ImageReference.reference).distinct()), *session.scalars(select(Image.digest))]

    def bare(reference: str) -> str:  # the image's own name: no registry, path, tag or digest
        return reference.split("@")[0].rsplit("/", 1)[-1].split(":")[0]

    def likeness(candidate: str) -> float:
        return max(difflib.SequenceMatcher(None, key, candidate).ratio(),
                   difflib.SequenceMatcher(None, bare(key), bare(candidate)).ratio())

    scored = sorted(((likeness(k), k) for k in known), reverse=True)
    return [k for score, k in scored[:n] if score >= 0.6]


def full_path(f: type[ImageFile] | Any = ImageFile) -> ColumnElement[bytes]:
    """The path of an ``image_files`` row: its key when the key is the whole path, else read from
    ``paths`` (only for paths of PATH_KEY_BYTES bytes or more, whose key is cut)."""
    return case((func.length(f.path_key) < PATH_KEY_BYTES, f.path_key),
                else_=select(Path.path).where(Path.id == f.path_id).scalar_subquery())


def in_path_order(q: Select, f: type[ImageFile] | Any = ImageFile) -> Select:
    """Byte order of the paths, read from ``ix_image_files_order``: only paths whose first PATH_KEY_BYTES
    bytes are equal are sorted by the database. For pages, whose order must be exact where they end."""
    return q.order_by(f.path_key, full_path(f))


def in_key_order(q: Select, f: type[ImageFile] | Any = ImageFile) -> Select:
    """The order of ``ix_image_files_order`` alone, for whole reports: ``path_order`` finishes it."""
    return q.order_by(f.path_key)


def path_order(rows: list[tuple]) -> list[tuple]:
    """Rows in key order (path first) -> in path order. Only paths that share their first PATH_KEY_BYTES
    bytes can be out of order; each such run is sorted alone (cheaper than having the database sort
    every row of a 100,000-row report within its key)."""
    if max(map(len, map(itemgetter(0), rows)), default=0) < PATH_KEY_BYTES:
        return rows  # every key is its whole path (nearly always): in order already
    i, n = 0, len(rows)
    while i < n:
        key = rows[i][0][:PATH_KEY_BYTES]
        j = i + 1
        if len(key) == PATH_KEY_BYTES:
            while j < n and rows[j][0][:PATH_KEY_BYTES] == key:
                j += 1
            if j - i > 1:
                rows[i:j] = sorted(rows[i:j], key=lambda r: r[0])
        i = j
    return rows


def filtered(q: Select, f: FileFilter) -> Select:
    if f.prefix:
        low, high = prefix_range(f.prefix[:PATH_KEY_BYTES])
        q = q.where(ImageFile.path_key >= low) if high is None else \
            q.where(ImageFile.path_key >= low, ImageFile.path_key < high)
        if len(f.prefix) > PATH_KEY_BYTES:
            q = q.where(func.substr(full_path(), 1, len(f.prefix)) == f.prefix)
    if f.kinds:
        q = q.where(ImageFile.kinds.op("&")(f.kinds) != 0)
    if f.since_ns:
        q = q.where(ImageFile.last_seen_ns >= f.since_ns)
    if f.types:
        q = q.where(ImageFile.file_type.in_(f.types))
    return q


def _file_rows(session: Session, image: Image, f: FileFilter) -> Select:
    """(path, containers, kinds, first_seen_ns, last_seen_ns, file_type, size, package) of the image's files
    that pass ``f``; size and package where the image's inventory knows them (without one,
    the joins that would find nothing are not made)."""
    columns = (full_path(), ImageFile.containers, ImageFile.kinds, ImageFile.first_seen_ns,
               ImageFile.last_seen_ns, ImageFile.file_type)
    if inventory_of(session, image) is None:
        q = select(*columns, null(), null())
    else:
        q = (select(*columns, InventoryFile.size, owner(ImageFile.image_id, ImageFile.path_id))
             .outerjoin(InventoryFile, and_(InventoryFile.image_id == ImageFile.image_id,
                                            InventoryFile.path_id == ImageFile.path_id)))
    return filtered(q.select_from(ImageFile).where(ImageFile.image_id == image.id), f)


def image_files(session: Session, image: Image, f: FileFilter) -> list[tuple]:
    """All the image's files that pass ``f``, in path order, as plain tuples: a merged report may hold
    100,000 rows, and objects per row would cost as much as the query."""
    return path_order(fetch_all(session, in_key_order(_file_rows(session, image, f))))


def type_counts(session: Session, image_ids: list[int]) -> dict[int, dict[int, int]]:
    """image id -> {file type: merged rows}, from ``image_file_counts``: a few rows per image."""
    out: dict[int, dict[int, int]] = {}
    for image_id, file_type, n in session.execute(
            select(ImageFileCount.image_id, ImageFileCount.file_type, ImageFileCount.files)
            .where(ImageFileCount.image_id.in_(image_ids))):
        out.setdefault(image_id, {})[file_type] = n
    return out


def count_files(session: Session, image: Image, f: FileFilter) -> int:
    """From the counts where ``f`` filters by type at most, else counted."""
    if f == FileFilter(types=f.types):
        counts = type_counts(session, [image.id]).get(image.id, {})
        return sum(n for t, n in counts.items() if t in f.types or not f.types)
    return session.scalar(filtered(select(func.count()).select_from(ImageFile)
                                   .where(ImageFile.image_id == image.id), f)) or 0


def image_files_page(session: Session, image: Image, f: FileFilter, page: Page) -> tuple[list[tuple], list[int]]:
    """One page of ``image_files``, and on how many nodes each row's path was used (spread.py): an index
    range, so memory and time follow the page, not the image. ``page.after`` continues after a path
    (keyset); offsets skip rows one by one."""
    q = in_path_order(_file_rows(session, image, f).add_columns(ImageFile.nodes))
    if page.after is not None:
        q = q.where(ImageFile.path_key >= page.after[:PATH_KEY_BYTES], full_path() > page.after)
    rows = fetch_all(session, page.apply(q))
    return [r[:-1] for r in rows], [r[-1] for r in rows]


def image_paths(session: Session, image: Image, f: FileFilter) -> list[bytes]:
    """Just the paths, in order: the keep-list, without the columns it does not print."""
    q = in_key_order(filtered(select(full_path()).where(ImageFile.image_id == image.id), f))
    return [p for (p,) in path_order(fetch_all(session, q))]
