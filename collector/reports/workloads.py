"""Workloads (Deployment, StatefulSet, …) and the files their pods used, merged over every instance.

A workload is (namespace, workload_name) as stored per container instance. The kind says where it came
from: a plain kind ("Deployment") is from owner data; a kind ending in "?" was guessed from the pod
name's pattern (see common/workload.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session

from snoop.collector.reports.filters import FileFilter, Page, fetch_all, sorted_rows, with_prefix
from snoop.collector.storage.models import (
    ContainerInstance,
    Image,
    InstanceFile,
    InventoryFile,
    Package,
    PackageFile,
    Path,
)
from snoop.common.kinds import BITS


def kinds_union(column: Any) -> Any:
    """Bitwise OR as an aggregate, portable: SQLite has no BIT_OR, but max(kinds & bit) per bit works."""
    expr: Any = None
    for bit in BITS:
        term = func.max(column.op("&")(bit))
        expr = term if expr is None else expr.op("|")(term)
    return expr


def workload_summaries(session: Session, page: Page, namespace: str | None = None) -> tuple[list[dict], int]:
    ci = ContainerInstance
    q = (
        select(ci.namespace, ci.workload_name, func.max(ci.workload_kind), func.count(distinct(ci.pod)),
               func.count(), func.min(ci.first_seen_ns), func.max(ci.last_seen_ns))
        .group_by(ci.namespace, ci.workload_name)
        .order_by(ci.namespace, ci.workload_name)
    )
    if namespace:
        q = q.where(ci.namespace == namespace)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(page.apply(q)).all()
    images: dict[tuple[str, str], list[str]] = {}
    for ns, name, digest in session.execute(
        select(ci.namespace, ci.workload_name, Image.digest).join(Image, Image.id == ci.image_id).distinct()
    ):
        images.setdefault((ns, name), []).append(digest)
    return [
        {"namespace": ns, "name": name, "kind": kind, "kind_source": "pod-name pattern" if kind.endswith("?")
         else "owner", "pods": pods, "containers": containers, "images": sorted(images.get((ns, name), [])),
         "first_seen_ns": first, "last_seen_ns": last}
        for ns, name, kind, pods, containers, first, last in rows
    ], total


def workload_files(
    session: Session, namespace: str, name: str, f: FileFilter, page: Page
) -> tuple[list[tuple], int]:
    """The workload's files that pass ``f``, sorted, as file-row tuples with size and package (see
    images.py), and their total. A page is cut in the database: memory follows the page."""
    ci, inf, inv, owner = ContainerInstance, InstanceFile, InventoryFile, PackageFile
    q = (
        select(Path.path, func.count(distinct(inf.instance_id)), kinds_union(inf.kinds),
               func.min(inf.first_seen_ns), func.max(inf.last_seen_ns), func.max(inf.file_type),
               func.max(inv.size), func.min(Package.name))
        .join(inf, inf.path_id == Path.id)
        .join(ci, inf.of(ci))
        .outerjoin(inv, and_(inv.image_id == ci.image_id, inv.path_id == inf.path_id))
        .outerjoin(owner, and_(owner.image_id == ci.image_id, owner.path_id == inf.path_id))
        .outerjoin(Package, Package.id == owner.package_id)
        .where(ci.namespace == namespace, ci.workload_name == name)
        .group_by(Path.id, Path.path)
    )
    q = with_prefix(q, f.prefix)
    if f.since_ns:
        q = q.having(func.max(inf.last_seen_ns) >= f.since_ns)
    if f.kinds:
        q = q.having(kinds_union(inf.kinds).op("&")(f.kinds) != 0)
    if f.types:
        q = q.having(func.max(inf.file_type).in_(f.types))
    if page.everything:
        rows = sorted_rows(fetch_all(session, q))
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return fetch_all(session, page.apply(q.order_by(Path.path))), total


def workload_exists(session: Session, namespace: str, name: str) -> bool:
    ci = ContainerInstance
    return session.scalar(select(ci.id).where(ci.namespace == namespace, ci.workload_name == name).limit(1)) \
        is not None


def workload_kind(session: Session, namespace: str, name: str) -> str | None:
    """The workload's kind as its instances were recorded ("Deployment", "Deployment?" when guessed);
    None when no instance has that workload."""
    ci = ContainerInstance
    return session.scalar(select(func.max(ci.workload_kind)).where(ci.namespace == namespace, ci.workload_name == name)
                          .group_by(ci.namespace))
