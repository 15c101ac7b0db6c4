"""Domain objects <-> snoop.v1 protobuf messages: the only place that knows both."""

from __future__ import annotations

from agent.events import ContainerRef, FileRecord
from snoop.v1 import snoop_pb2 as pb


def container_to_pb(ref: ContainerRef, node: str) -> pb.Container:
    return pb.Container(
        node=node,
        container_id=ref.container_id,
        name=ref.name,
        pod_name=ref.pod_name,
        pod_namespace=ref.pod_namespace,
        pod_uid=ref.pod_uid,
        image_reference=ref.image_reference,
        image_digest=ref.image_digest,
        image_id=ref.image_id,
        cgroup_id=ref.cgroup_id,
        cgroup_path=ref.cgroup_path,
        workload_kind=ref.workload_kind,
        workload_name=ref.workload_name,
        started_at_unix_ns=ref.started_at_ns,
    )


def container_files_to_pb(
    ref: ContainerRef, node: str, files: dict[bytes, FileRecord], total_events: int
) -> pb.ContainerFiles:
    return pb.ContainerFiles(
        container=container_to_pb(ref, node),
        files=[
            pb.FileAccess(
                path=path, kinds=r.kinds, first_seen_unix_ns=r.first_seen_ns, last_seen_unix_ns=r.last_seen_ns,
                type=int(r.type),
            )
            for path, r in files.items()
        ],
        total_events=total_events,
    )
