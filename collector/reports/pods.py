"""A pod's report in the seed format (the original snoop sidecar's JSON), from what the cluster sent."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.storage.models import ContainerInstance, Image, InstanceFile, Path


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
        files = session.scalars(
            select(Path.path).join(InstanceFile, InstanceFile.path_id == Path.id)
            .where(InstanceFile.instance_id == instance.id).order_by(Path.path)
        ).all()
        containers.append({
            "name": instance.name,
            "container_id": instance.container_id,
            "image": instance.image_reference,
            "image_digest": digest,
            "cgroup_id": instance.cgroup_id,
            "cgroup_path": instance.cgroup_path,
            "files": [os.fsdecode(p) for p in files],
            "total_events": instance.total_events,
            "unique_files": len(files),
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
