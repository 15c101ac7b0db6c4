"""A pod's report in the seed format (common/seed_report.py), from what the cluster sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from snoop.collector.storage.models import ContainerInstance, Image, InstanceFile, Path
from snoop.common.seed_report import container_entry, pod_report


def pod_report_of(session: Session, namespace: str, pod: str) -> dict[str, Any] | None:
    """One entry per container instance (a restarted container appears once per container ID)."""
    ci = ContainerInstance
    instances = session.execute(
        select(ci, Image.digest).join(Image, Image.id == ci.image_id)
        .where(ci.namespace == namespace, ci.pod == pod).order_by(ci.name, ci.first_seen_ns)
    ).all()
    if not instances:
        return None
    containers = [
        container_entry(
            name=instance.name, container_id=instance.container_id, image=instance.image_reference,
            image_digest=digest, cgroup_id=instance.cgroup_id, cgroup_path=instance.cgroup_path,
            total_events=instance.total_events,
            paths=((p, t) for p, t in session.execute(
                select(Path.path, InstanceFile.file_type).join(InstanceFile, InstanceFile.path_id == Path.id)
                .where(InstanceFile.instance_id == instance.id, InstanceFile.day == instance.files_day))),
        )
        for instance, digest in instances
    ]
    first = min(i.first_seen_ns for i, _ in instances)
    return pod_report(
        pod=pod, namespace=namespace, node=instances[-1][0].node,
        started_at_ns=min((i.started_at_ns or first) for i, _ in instances),
        last_updated_at_ns=max(i.last_seen_ns for i, _ in instances), containers=containers,
        dropped_events=max(i.dropped_events for i, _ in instances),
    )
