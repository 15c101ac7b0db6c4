"""Read side for image contents: what an image holds against what its containers used, by file, byte
and package. Every figure is driven from the used rows (an image's few thousand ``image_files``)
joined to its inventory by key, or read from totals fixed when the inventory completed: never a scan
of 100,000 inventory rows per request, except for the unused list itself."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from snoop.collector.reports.coverage import coverage, discovery
from snoop.collector.reports.filters import Page, fetch_all, sorted_rows, with_prefix
from snoop.collector.storage.models import (
    Image,
    ImageFile,
    Inventory,
    InventoryFile,
    Package,
    PackageFile,
    Path,
)
from snoop.collector.storage.write_inventory import distinct_bytes
from snoop.common.file_types import KEEP

NO_INVENTORY = {"files": None, "bytes": None, "source": None}


@dataclass(frozen=True)
class Used:
    """The inventory files some container used, read in one query (a file row per owner)."""

    files: dict[int, tuple[int, int, int]]        # path id -> (size, link group, file type as used)
    by_package: dict[int, list[int]]              # package id -> path ids
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)  # path id -> (containers, last seen ns)

    @property
    def bytes(self) -> int:
        return distinct_bytes((p, size, group) for p, (size, group, _) in self.files.items())

    def package_usage(self) -> dict[int, tuple[int, int]]:
        """package id -> (used files, used bytes)."""
        return {pid: (len(paths), distinct_bytes((p, *self.files[p][:2]) for p in paths))
                for pid, paths in self.by_package.items()}


def used_files(session: Session, image: Image) -> Used:
    rows = fetch_all(session, select(InventoryFile.path_id, InventoryFile.size, InventoryFile.link_group,
                                     ImageFile.file_type, PackageFile.package_id, ImageFile.containers,
                                     ImageFile.last_seen_ns)
                     .select_from(ImageFile)
                     .join(InventoryFile, and_(InventoryFile.image_id == ImageFile.image_id,
                                               InventoryFile.path_id == ImageFile.path_id))
                     .outerjoin(PackageFile, and_(PackageFile.image_id == ImageFile.image_id,
                                                  PackageFile.path_id == ImageFile.path_id))
                     .where(ImageFile.image_id == image.id))
    files: dict[int, tuple[int, int, int]] = {}
    by_package: dict[int, list[int]] = defaultdict(list)
    seen: dict[int, tuple[int, int]] = {}
    for path_id, size, group, file_type, package_id, containers, last_seen_ns in rows:
        files[path_id] = (size, group, file_type)
        seen[path_id] = (containers, last_seen_ns)
        if package_id is not None:
            by_package[package_id].append(path_id)
    return Used(files, by_package, seen)


def inventory_of(session: Session, image: Image) -> Inventory | None:
    inv = session.get(Inventory, image.id)
    return inv if inv is not None and inv.complete else None


def summary(session: Session, image: Image, usage: Used | None = None) -> dict[str, Any]:
    """Every figure from a few aggregates and the used rows (``usage``, when the caller has read them):
    never a scan of the inventory."""
    inv = inventory_of(session, image)
    # What a container may have created is what a keep-list lists: files, links, paths gone untyped.
    could_be_created, last_new = session.execute(
        select(func.count().filter(ImageFile.file_type.in_(KEEP)), func.max(ImageFile.first_seen_ns))
        .where(ImageFile.image_id == image.id)).one()
    used = Used({}, {}) if inv is None else usage or used_files(session, image)
    created = could_be_created - sum(1 for _, _, t in used.files.values() if t in KEEP)
    out: dict[str, Any] = {"inventory": dict(NO_INVENTORY), "used": None, "unused": None,
                           "runtime_created": None, "packages": None, "package_errors": [],
                           "coverage": coverage(session, image, last_new or 0),
                           "discovery": discovery(session, image)}
    if inv is None:
        return out  # without the image's files, nothing used can be told to be created at run time
    used_bytes = used.bytes
    total_packages = session.scalar(select(func.count()).where(Package.image_id == image.id)) or 0
    packages_used = len(used.by_package)
    out.update(
        inventory={"files": inv.files, "bytes": inv.bytes, "source": inv.source},
        used={"files": len(used.files), "bytes": used_bytes},
        unused={"files": inv.files - len(used.files), "bytes": inv.bytes - used_bytes},
        packages={"total": total_packages, "used": packages_used, "unused": total_packages - packages_used},
        package_errors=json.loads(inv.package_errors),
        runtime_created={"files": created},
    )
    return out


def owner(image_id: Any, path_id: Any) -> Any:
    """A correlated subquery: the name of the first package owning the file at (image_id, path_id)."""
    return (select(Package.name).join(PackageFile, PackageFile.package_id == Package.id)
            .where(PackageFile.image_id == image_id, PackageFile.path_id == path_id)
            .order_by(Package.id).limit(1).scalar_subquery())


def _unused_rows(image: Image, prefix: bytes | None) -> Select:
    """(path, size, file_type, package) of inventory files no container used."""
    used = (select(ImageFile.path_id)
            .where(ImageFile.image_id == InventoryFile.image_id, ImageFile.path_id == InventoryFile.path_id))
    return with_prefix(
        select(Path.path, InventoryFile.size, InventoryFile.file_type,
               owner(InventoryFile.image_id, InventoryFile.path_id))
        .join(Path, Path.id == InventoryFile.path_id)
        .where(InventoryFile.image_id == image.id, ~used.exists()),
        prefix)


def unused_files(session: Session, image: Image, prefix: bytes | None, page: Page) -> tuple[list[tuple], int]:
    """The remove list: sorted, paged in the database when a page is asked for."""
    q = _unused_rows(image, prefix)
    if page.everything:
        rows = sorted_rows(fetch_all(session, q))
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return fetch_all(session, page.apply(q.order_by(Path.path))), total


def packages(session: Session, image: Image, used: bool | None = None, usage: Used | None = None
             ) -> list[dict[str, Any]]:
    """Every package of the image's inventory with its files and bytes, used and not, sorted by name."""
    by_package = (usage or used_files(session, image)).package_usage()
    out = []
    for p in session.scalars(select(Package).where(Package.image_id == image.id).order_by(Package.type, Package.name)):
        n_used, used_bytes = by_package.get(p.id, (0, 0))
        if used is not None and (n_used > 0) != used:
            continue
        out.append({"type": p.type, "name": p.name, "version": p.version, "purl": p.purl, "files": p.files,
                    "bytes": p.bytes, "used_files": n_used, "used_bytes": used_bytes, "used": n_used > 0})
    return out


def used_package_names(session: Session, image: Image) -> dict[tuple[str, str], str]:
    """(type, name) -> version of the packages some container of the image used: its package files joined to
    its used rows in the database (nothing to join without an inventory)."""
    used = (select(PackageFile.package_id)
            .join(ImageFile, and_(ImageFile.image_id == PackageFile.image_id, ImageFile.path_id == PackageFile.path_id))
            .where(PackageFile.image_id == image.id))
    return {(p.type, p.name): p.version for p in session.scalars(select(Package).where(Package.id.in_(used)))}


def image_bytes(session: Session, image_ids: list[int]) -> dict[int, tuple[int, int]]:
    """image id -> (inventory bytes, used bytes) for images with a complete inventory."""
    if not image_ids:
        return {}
    totals = dict(session.execute(select(Inventory.image_id, Inventory.bytes)
                                  .where(Inventory.image_id.in_(image_ids), Inventory.complete.is_(True))).all())
    if not totals:
        return {}
    # Each hard-linked inode once: distinct (image, inode or path, size), then summed per image.
    key = case((InventoryFile.link_group == 0, -InventoryFile.path_id), else_=InventoryFile.link_group)
    distinct = (select(InventoryFile.image_id, key.label("k"), InventoryFile.size)
                .join(ImageFile, and_(ImageFile.image_id == InventoryFile.image_id,
                                      ImageFile.path_id == InventoryFile.path_id))
                .where(InventoryFile.image_id.in_(list(totals))).distinct().subquery())
    used = dict(session.execute(select(distinct.c.image_id, func.sum(distinct.c.size))
                                .group_by(distinct.c.image_id)).all())
    return {i: (b, int(used.get(i) or 0)) for i, b in totals.items()}
