"""The JSON report of the original snoop sidecar, one per pod, extended with node and image identity.

Paths that are not UTF-8 are written with Python's surrogateescape (``\\udcXX`` in JSON): decoding
with ``os.fsencode`` gives back the exact bytes.

``files`` lists what a slimmed image must keep. Two extensions keep the rest apart: ``directories``
(listed, a directory keeps its whole subtree in a keep-list) and ``runtime_provided`` (mounted by the
runtime into every container: not the image's).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.dedup import ContainerFiles
from agent.events import FileRecord
from common.file_types import REPORT_SECTIONS as SECTIONS


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sections(files: dict[bytes, FileRecord]) -> dict[str, list[str]]:
    """``files``, ``directories`` and ``runtime_provided``, each sorted."""
    out: dict[str, list[str]] = {"files": [], **{name: [] for name in SECTIONS.values()}}
    for path, record in files.items():
        out[SECTIONS.get(record.type, "files")].append(os.fsdecode(path))
    return {name: sorted(paths) for name, paths in out.items()}


def pod_reports(
    containers: list[ContainerFiles], *, node: str, started_at_ns: int, now_ns: int, dropped_events: int
) -> list[dict[str, Any]]:
    """Groups containers by pod, in the seed's field order."""
    pods: dict[tuple[str, str], list[ContainerFiles]] = {}
    for c in containers:
        pods.setdefault((c.ref.pod_namespace, c.ref.pod_name), []).append(c)
    reports = []
    for (namespace, pod), members in sorted(pods.items()):
        entries: list[dict[str, Any]] = []
        for c in sorted(members, key=lambda c: (c.ref.name, c.ref.container_id)):
            listed = sections(c.files)
            entries.append({
                "name": c.ref.name,
                "container_id": c.ref.container_id,
                "image": c.ref.image_reference,
                "image_digest": c.ref.image_digest,
                "cgroup_id": c.ref.cgroup_id,
                "cgroup_path": c.ref.cgroup_path,
                "files": listed["files"],
                "total_events": c.total_events,
                "unique_files": len(listed["files"]),
                **{name: listed[name] for name in SECTIONS.values()},
            })
        reports.append(
            {
                "pod_name": pod,
                "namespace": namespace,
                "node": node,
                "started_at": iso(started_at_ns),
                "last_updated_at": iso(now_ns),
                "containers": entries,
                "total_events": sum(e["total_events"] for e in entries),
                "dropped_events": dropped_events,
            }
        )
    return reports


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Readers see the old report or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def report_file_name(namespace: str, pod: str) -> str:
    """``<namespace>_<pod>.json``, whatever the runtime let through in the names: every byte outside
    ``[A-Za-z0-9.-]`` (and so every ``/``) is %-escaped, so a name cannot leave the report directory."""
    return "_".join(quote(name.encode("utf-8", "surrogateescape"), safe=".-")
                    for name in (namespace, pod)).replace("..", "%2E.") + ".json"


def write_reports(directory: Path, reports: list[dict[str, Any]]) -> None:
    """One file per pod, named by ``report_file_name``."""
    for report in reports:
        write_atomic(directory / report_file_name(report["namespace"], report["pod_name"]), report)
