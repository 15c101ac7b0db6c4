"""``snoop push``: seed-format reports (standalone agents, the original sidecar) into a collector,
through the same gRPC ingest as the agents, so reports of many deployments merge.

Each report is checked whole before anything of it is sent; a bad one is named with the place of its
fault and skipped, and the good ones go. Big reports go in batches of ``MESSAGE_FILES`` files."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, cast

import grpc

from snoop.agent.convert import split_batches
from snoop.common.channels import PLAINTEXT, TlsFiles, open_channel, token_metadata
from snoop.common.limits import MESSAGE_FILES
from snoop.common.seed_report import ReportError, read_report
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

ACCESSED = 1  # seed reports do not say how a file was used: recorded as read
MAX_REPORT_BYTES = 64 * 1024 * 1024  # ~600,000 paths; parsing costs about 15 times the file in memory


def batch_from_report(doc: Any, *, node: str | None, image_digest: str | None) -> pb.Batch:
    """Pure: a parsed report -> one Batch, numbered when it is sent; raises ReportError before anything
    is built."""
    report = read_report(doc, node=node, image_digest=image_digest)
    started, updated = report.started_at_ns, report.last_updated_at_ns
    containers = [pb.ContainerFiles(
        container=pb.Container(
            node=report.node, container_id=c.container_id, name=c.name, pod_name=report.pod,
            pod_namespace=report.namespace, image_reference=c.image, image_digest=c.image_digest,
            cgroup_id=c.cgroup_id, cgroup_path=c.cgroup_path, started_at_unix_ns=started,
            observed_from_unix_ns=started, observed_until_unix_ns=updated,
        ),
        files=[pb.FileAccess(path=path, kinds=ACCESSED, first_seen_unix_ns=started, last_seen_unix_ns=updated,
                             type=cast(pb.FileType, file_type)) for path, file_type in c.paths],
        total_events=c.total_events,
    ) for c in report.containers]
    return pb.Batch(agent_id=f"push/{socket.gethostname()}", containers=containers,
                    dropped_events=report.dropped_events)


def load(path: Path, *, node: str | None, image_digest: str | None) -> pb.Batch:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReportError(f"cannot read: {exc.strerror}") from exc
    if size > MAX_REPORT_BYTES:
        raise ReportError(f"{size / 2**20:.0f} MiB is more than a report of {MAX_REPORT_BYTES // 2**20} MiB "
                          "may be; split it by pod")
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise ReportError(f"cannot read JSON: {exc}") from exc
    return batch_from_report(doc, node=node, image_digest=image_digest)


def batches_of(report: pb.Batch, first_seq: int) -> list[pb.Batch]:
    """A report's containers in batches of at most MESSAGE_FILES files, numbered from ``first_seq``."""
    parts = split_batches(list(report.containers), MESSAGE_FILES) or [[]]
    return [pb.Batch(agent_id=report.agent_id, seq=first_seq + i, containers=part,
                     dropped_events=report.dropped_events) for i, part in enumerate(parts)]


def push(collector: str, paths: list[Path], *, node: str | None, image_digest: str | None,
         token: str | None = None, timeout_s: float = 60, tls: TlsFiles = PLAINTEXT) -> int:
    """Sends every well-formed report; names each malformed one and sends nothing of it. Exit code 1
    when any report was malformed or refused."""
    batches: dict[int, Path] = {}
    to_send: list[pb.Batch] = []
    failed = False
    for path in paths:
        try:
            report = load(path, node=node, image_digest=image_digest)
        except ReportError as exc:
            print(f"snoop push: {path}: {exc}", file=sys.stderr)
            failed = True
            continue
        for batch in batches_of(report, len(to_send) + 1):
            to_send.append(batch)
            batches[batch.seq] = path
    accepted: dict[Path, int] = {}
    if to_send:
        try:
            with open_channel(collector, tls) as channel:
                stream = pb_grpc.IngestStub(channel).Stream(iter(to_send), timeout=timeout_s,
                                                            metadata=token_metadata(token))
                for ack in stream:
                    for r in ack.refused:
                        what = os.fsdecode(r.path) if r.path else f"container {r.container_id} ({r.files} files)"
                        print(f"snoop push: {batches[ack.seq]}: refused {what}: {r.detail}", file=sys.stderr)
                        failed = True
                    accepted[batches[ack.seq]] = accepted.get(batches[ack.seq], 0) + ack.files_accepted
            for path, n in accepted.items():
                print(f"{path}: {n} new files")
        except grpc.RpcError as exc:
            print(f"snoop push: collector {collector}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    return 1 if failed else 0
