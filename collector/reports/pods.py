"""A pod's report in the seed format (the original snoop sidecar's JSON), from what the cluster sent."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.storage.models import ContainerInstance, Image, InstanceFile, Path
from common.file_types import REPORT_SECTIONS as SECTIONS


def pod_report(session: Session, namespace: str, pod: str) -> dict[str, Any] | None:
    """One entry per container instance (a restarted container appears once per container ID)."""
    ci = ContainerInstance
    instances = session.execute(
        select(ci, Image.digest).join(Image, Image.id == ci.image_id)
        .where(ci.namespace == namespace, ci.pod == pod).order_by(ci.name, ci.first_seen_ns)
    ).all()
    if not instances:
        return None
    containers = []
    for instance, digest in instances:
        listed: dict[str, list[str]] = {"files": [], **{name: [] for name in SECTIONS.values()}}
        for path, file_type in session.execute(
            select(Path.path, InstanceFile.file_type).join(InstanceFile, InstanceFile.path_id == Path.id)
            .where(InstanceFile.instance_id == instance.id).order_by(Path.path)
        ):
            listed[SECTIONS.get(file_type, "files")].append(os.fsdecode(path))
        files = listed["files"]
        containers.append({
            "name": instance.name,
            "container_id": instance.container_id,
            "image": instance.image_reference,
            "image_digest": digest,
            "cgroup_id": instance.cgroup_id,
            "cgroup_path": instance.cgroup_path,
            "files": files,
            "total_events": instance.total_events,
            "unique_files": len(files),
            **{name: listed[name] for name in SECTIONS.values()},
        })
    first = min(i.first_seen_ns for i, _ in instances)
    last = max(i.last_seen_ns for i, _ in instances)
    return {
        "pod_name": pod,
        "namespace": namespace,
        "node": instances[-1][0].node,
        "started_at_ns": min((i.started_at_ns or first) for i, _ in instances),
        "last_updated_at_ns": last,
        "containers": containers,
        "total_events": sum(c["total_events"] for c in containers),
        "dropped_events": max(i.dropped_events for i, _ in instances),
    }
