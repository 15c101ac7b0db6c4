"""The JSON report of the original snoop sidecar, one per pod: its one definition, written (``pod_report``)
and read (``read_report``) here. The agent writes it (``--output``), the collector serves it
(``/api/v1/pods/{namespace}/{pod}/report``), ``snoop push`` reads it back.

Extended with ``node`` and, per container, ``container_id``, ``image`` and ``image_digest``. ``files``
lists what a slimmed image must keep; ``directories`` and ``runtime_provided`` keep the rest apart (a
directory would keep its whole subtree in a keep-list; a runtime mount is not the image's). Paths that
are not UTF-8 are written with surrogateescape (``\\udcXX`` in JSON): ``os.fsencode`` gives the bytes back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snoop.common.file_types import REPORT_SECTIONS, UNKNOWN
from snoop.common.limits import INT64_MAX, PATH_MAX, UINT64_MAX

# Each list of a container entry and what its paths are; the original sidecar's reports have ``files`` only.
SECTIONS = {"files": UNKNOWN, **{name: code for code, name in REPORT_SECTIONS.items()}}


def format_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> int:
    """An ISO 8601 time (UTC when it names no zone) -> Unix ns; ValueError when it is not one or an int64
    cannot hold it."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        ns = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1e9)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is outside 1970–2262") from exc
    if not 0 <= ns <= INT64_MAX:
        raise ValueError(f"{value!r} is outside 1970–2262")
    return ns


def container_entry(*, name: str, container_id: str, image: str, image_digest: str, cgroup_id: int,
                    cgroup_path: str, paths: Iterable[tuple[bytes, int]], total_events: int) -> dict[str, Any]:
    """One container, its (path, common.file_types code) pairs sorted into the report's lists."""
    listed: dict[str, list[str]] = {section: [] for section in SECTIONS}
    for path, file_type in paths:
        listed[REPORT_SECTIONS.get(file_type, "files")].append(os.fsdecode(path))
    files = sorted(listed.pop("files"))
    return {"name": name, "container_id": container_id, "image": image, "image_digest": image_digest,
            "cgroup_id": cgroup_id, "cgroup_path": cgroup_path, "files": files, "total_events": total_events,
            "unique_files": len(files), **{section: sorted(paths) for section, paths in listed.items()}}


def pod_report(*, pod: str, namespace: str, node: str, started_at_ns: int, last_updated_at_ns: int,
               containers: list[dict[str, Any]], dropped_events: int) -> dict[str, Any]:
    """The report of one pod, in the seed's field order."""
    return {"pod_name": pod, "namespace": namespace, "node": node, "started_at": format_time(started_at_ns),
            "last_updated_at": format_time(last_updated_at_ns), "containers": containers,
            "total_events": sum(c["total_events"] for c in containers), "dropped_events": dropped_events}


class ReportError(ValueError):
    """A report that breaks the seed format; the message names the place."""


@dataclass(frozen=True)
class ContainerReport:
    name: str
    container_id: str      # "report:<namespace>/<pod>/<name>" where the report has none
    image: str
    image_digest: str
    cgroup_id: int
    cgroup_path: str
    total_events: int
    paths: list[tuple[bytes, int]]  # (path, common.file_types code), every section


@dataclass(frozen=True)
class PodReport:
    pod: str
    namespace: str
    node: str
    started_at_ns: int
    last_updated_at_ns: int
    dropped_events: int
    containers: list[ContainerReport]


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ReportError(f"{where}: expected {names}, got {type(value).__name__}")
    return value


def _count(value: Any, where: str) -> int:
    """A non-negative integer that fits the wire's counters (uint64)."""
    n = _expect(value, int, where)
    if not 0 <= n <= UINT64_MAX:
        raise ReportError(f"{where}: {n} is out of range (0 to {UINT64_MAX})")
    return n


def _time_ns(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        return parse_time(_expect(value, str, where))
    except ValueError as exc:
        raise ReportError(f"{where}: not an ISO 8601 time of 1970–2262: {value!r}") from exc


def _paths(c: dict, where: str) -> list[tuple[bytes, int]]:
    _expect(c.get("files"), list, f"{where}.files")
    out = []
    for section, file_type in SECTIONS.items():
        for j, path in enumerate(_expect(c.get(section, []), list, f"{where}.{section}")):
            raw = os.fsencode(_expect(path, str, f"{where}.{section}[{j}]"))
            if not raw.startswith(b"/") or len(raw) >= PATH_MAX or b"\0" in raw:
                raise ReportError(f"{where}.{section}[{j}]: not an absolute path under PATH_MAX: {path[:100]!r}")
            out.append((raw, file_type))
    return out


def read_report(doc: Any, *, node: str | None = None, image_digest: str | None = None) -> PodReport:
    """A parsed report, checked whole; ``node`` and ``image_digest`` stand in where the report has none
    (the original sidecar wrote neither). Raises ReportError naming the place of the first fault."""
    _expect(doc, dict, "report")
    pod = _expect(doc.get("pod_name"), str, "pod_name")
    namespace = _expect(doc.get("namespace"), str, "namespace")
    node = doc.get("node") or node
    if not node:
        raise ReportError("node: missing; the report has none, pass --node")
    started = _time_ns(doc.get("started_at"), "started_at")
    updated = _time_ns(doc.get("last_updated_at"), "last_updated_at") or started
    dropped = _count(doc.get("dropped_events", 0), "dropped_events")
    containers = []
    for i, c in enumerate(_expect(doc.get("containers"), list, "containers")):
        where = f"containers[{i}]"
        _expect(c, dict, where)
        name = _expect(c.get("name"), str, f"{where}.name")
        digest = c.get("image_digest") or image_digest
        if not digest:
            raise ReportError(f"{where} ({name}): no image_digest; pass --image-digest for reports of the "
                              "original sidecar")
        paths = _paths(c, where)
        containers.append(ContainerReport(
            name=name,
            container_id=_expect(c.get("container_id") or f"report:{namespace}/{pod}/{name}", str,
                                 f"{where}.container_id"),
            image=_expect(c.get("image", ""), str, f"{where}.image"),
            image_digest=_expect(digest, str, f"{where}.image_digest"),
            cgroup_id=_count(c.get("cgroup_id", 0), f"{where}.cgroup_id"),
            cgroup_path=_expect(c.get("cgroup_path", ""), str, f"{where}.cgroup_path"),
            paths=paths,
            total_events=_count(c.get("total_events", 0), f"{where}.total_events"),
        ))
    return PodReport(pod=pod, namespace=namespace, node=_expect(node, str, "node"), started_at_ns=started,
                     last_updated_at_ns=updated, dropped_events=dropped, containers=containers)
