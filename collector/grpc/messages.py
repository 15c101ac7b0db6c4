"""snoop.v1 messages -> the storage layer's plain input types."""

from __future__ import annotations

from snoop.collector.storage.write import ContainerIn
from snoop.collector.storage.write_inventory import ChunkIn, DoneIn, EntryIn, PackageIn
from snoop.v1 import snoop_pb2 as pb


def containers_from_batch(batch: pb.Batch) -> list[ContainerIn]:
    return [
        ContainerIn(
            node=c.container.node,
            container_id=c.container.container_id,
            name=c.container.name,
            namespace=c.container.pod_namespace,
            pod=c.container.pod_name,
            pod_uid=c.container.pod_uid,
            image_digest=c.container.image_digest,
            image_reference=c.container.image_reference,
            cgroup_id=c.container.cgroup_id,
            cgroup_path=c.container.cgroup_path,
            workload_kind=c.container.workload_kind,
            workload_name=c.container.workload_name,
            started_at_ns=c.container.started_at_unix_ns,
            observed_from_ns=c.container.observed_from_unix_ns,
            observed_until_ns=c.container.observed_until_unix_ns,
            base_digest=c.container.base_image_digest,
            total_events=c.total_events,
            dropped_events=batch.dropped_events,
            files=tuple([(f.path, f.kinds, f.first_seen_unix_ns, f.last_seen_unix_ns, f.type) for f in c.files]),
        )
        for c in batch.containers
    ]


def chunk_from_pb(c: pb.InventoryChunk) -> ChunkIn:
    done = None
    if c.HasField("done"):
        done = DoneIn(c.done.source, c.done.files,
                      [{"type": e.type, "path": e.path, "reason": e.reason} for e in c.done.package_errors])
    return ChunkIn(
        agent_id=c.agent_id,
        image_digest=c.image_digest,
        image_reference=c.image_reference,
        upload_id=c.upload_id,
        index=c.index,
        files=[EntryIn(f.path, f.type, f.size, f.target or None, f.link_group) for f in c.files],
        packages=[PackageIn(p.type, p.name, p.version, p.purl, list(p.files)) for p in c.packages],
        done=done,
    )
