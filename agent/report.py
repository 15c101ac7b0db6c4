"""Per-pod seed reports (common/seed_report.py) from the agent's sets, written to ``--output``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from snoop.agent.dedup import ContainerFiles
from snoop.common.seed_report import container_entry, pod_report


def pod_reports(
    containers: list[ContainerFiles], *, node: str, started_at_ns: int, now_ns: int, dropped_events: int
) -> list[dict[str, Any]]:
    """One report per pod, containers by name."""
    pods: dict[tuple[str, str], list[ContainerFiles]] = {}
    for c in containers:
        pods.setdefault((c.ref.pod_namespace, c.ref.pod_name), []).append(c)
    return [
        pod_report(
            pod=pod, namespace=namespace, node=node, started_at_ns=started_at_ns, last_updated_at_ns=now_ns,
            dropped_events=dropped_events,
            containers=[
                container_entry(name=c.ref.name, container_id=c.ref.container_id, image=c.ref.image_reference,
                                image_digest=c.ref.image_digest, cgroup_id=c.ref.cgroup_id,
                                cgroup_path=c.ref.cgroup_path, total_events=c.total_events,
                                paths=((p, r.type) for p, r in c.files.items()))
                for c in sorted(members, key=lambda c: (c.ref.name, c.ref.container_id))
            ],
        )
        for (namespace, pod), members in sorted(pods.items())
    ]


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
