"""The JSON report of the original snoop sidecar, one per pod: its one definition. The agent writes it
(``--output``), the collector serves it (``/api/v1/pods/{namespace}/{pod}/report``), ``snoop push``
reads it back.

Extended with ``node`` and, per container, ``container_id``, ``image`` and ``image_digest``. ``files``
lists what a slimmed image must keep; ``directories`` and ``runtime_provided`` keep the rest apart (a
directory would keep its whole subtree in a keep-list; a runtime mount is not the image's). Paths that
are not UTF-8 are written with surrogateescape (``\\udcXX`` in JSON): ``os.fsencode`` gives the bytes back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from snoop.common.file_types import REPORT_SECTIONS, UNKNOWN
from snoop.common.limits import INT64_MAX

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
