"""Domain objects <-> snoop.v1 protobuf messages: the only place that knows both."""

from __future__ import annotations

from typing import cast

from snoop.agent.events import ContainerRef, FileRecord
from snoop.v1 import snoop_pb2 as pb


def container_to_pb(ref: ContainerRef, node: str, watching_since_ns: int = 0) -> pb.Container:
    """``watching_since_ns``: when this agent began tracing; the container was observed from its start
    or from then, whichever came later."""
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
        observed_from_unix_ns=max(ref.started_at_ns, watching_since_ns) if ref.started_at_ns else 0,
        base_image_digest=ref.slim_base,
    )


def split_batches(containers: list[pb.ContainerFiles], max_files: int) -> list[list[pb.ContainerFiles]]:
    """Containers' files cut into batches of at most ``max_files`` files (a container may span several),
    so that no batch makes the collector hold a million rows at once. Paths are at most 4 KiB, so a
    batch stays under ``max_files`` × 4 KiB."""
    batches: list[list[pb.ContainerFiles]] = [[]]
    room = max_files
    for c in containers:
        files = list(c.files)
        while True:
            part, files = files[:room], files[room:]
            batches[-1].append(pb.ContainerFiles(container=c.container, files=part, total_events=c.total_events))
            room -= len(part)
            if not files:
                break
            batches.append([])
            room = max_files
        if room == 0:
            batches.append([])
            room = max_files
    return [b for b in batches if b]


def container_files_to_pb(
    ref: ContainerRef, node: str, files: dict[bytes, FileRecord], total_events: int, watching_since_ns: int = 0
) -> pb.ContainerFiles:
    return pb.ContainerFiles(
        container=container_to_pb(ref, node, watching_since_ns),
        files=[
            pb.FileAccess(
                path=path, kinds=r.kinds, first_seen_unix_ns=r.first_seen_ns, last_seen_unix_ns=r.last_seen_ns,
                type=cast(pb.FileType, r.type),  # a common.file_types code: the enum's numbers
            )
            for path, r in files.items()
        ],
        total_events=total_events,
    )
