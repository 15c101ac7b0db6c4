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
from snoop.common.limits import MESSAGE_FILES, PATH_MAX, UINT64_MAX
from snoop.common.seed_report import SECTIONS, parse_time
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

ACCESSED = 1  # seed reports do not say how a file was used: recorded as read
MAX_REPORT_BYTES = 64 * 1024 * 1024  # ~600,000 paths; parsing costs about 15 times the file in memory


class ReportError(ValueError):
    """A report that breaks the seed format; the message names the place."""


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ReportError(f"{where}: expected {names}, got {type(value).__name__}")
    return value


def _count(value: Any, where: str) -> int:
    """A non-negative integer that fits its protobuf field (uint64)."""
    n = _expect(value, int, where)
    if not 0 <= n <= UINT64_MAX:
        raise ReportError(f"{where}: {n} is out of range (0 to {UINT64_MAX})")
    return n


def _time_ns(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        return parse_time(_expect(value, str, where))
    except ValueError as exc:
        raise ReportError(f"{where}: not an ISO 8601 time of 1970–2262: {value!r}") from exc


def batch_from_report(doc: Any, *, node: str | None, image_digest: str | None) -> pb.Batch:
    """Pure: a parsed report -> one Batch, numbered when it is sent; raises ReportError before anything
    is built."""
    _expect(doc, dict, "report")
    pod = _expect(doc.get("pod_name"), str, "pod_name")
    namespace = _expect(doc.get("namespace"), str, "namespace")
    node = doc.get("node") or node
    if not node:
        raise ReportError("node: missing; the report has none, pass --node")
    started = _time_ns(doc.get("started_at"), "started_at")
    updated = _time_ns(doc.get("last_updated_at"), "last_updated_at") or started
    dropped = _count(doc.get("dropped_events", 0), "dropped_events")
    containers = []
    for i, c in enumerate(_expect(doc.get("containers"), list, "containers")):
        where = f"containers[{i}]"
        _expect(c, dict, where)
        name = _expect(c.get("name"), str, f"{where}.name")
        digest = c.get("image_digest") or image_digest
        if not digest:
            raise ReportError(f"{where} ({name}): no image_digest; pass --image-digest for reports of the "
                              "original sidecar")
        files = []
        _expect(c.get("files"), list, f"{where}.files")
        for section, type_ in SECTIONS.items():
            for j, path in enumerate(_expect(c.get(section, []), list, f"{where}.{section}")):
                raw = os.fsencode(_expect(path, str, f"{where}.{section}[{j}]"))
                if not raw.startswith(b"/") or len(raw) >= PATH_MAX or b"\0" in raw:
                    raise ReportError(f"{where}.{section}[{j}]: not an absolute path under PATH_MAX: "
                                      f"{path[:100]!r}")
                files.append(pb.FileAccess(path=raw, kinds=ACCESSED, first_seen_unix_ns=started,
                                           last_seen_unix_ns=updated, type=cast(pb.FileType, type_)))
        containers.append(pb.ContainerFiles(
            container=pb.Container(
                node=node,
                container_id=_expect(c.get("container_id") or f"report:{namespace}/{pod}/{name}", str,
                                     f"{where}.container_id"),
                name=name, pod_name=pod, pod_namespace=namespace,
                image_reference=_expect(c.get("image", ""), str, f"{where}.image"),
                image_digest=_expect(digest, str, f"{where}.image_digest"),
                cgroup_id=_count(c.get("cgroup_id", 0), f"{where}.cgroup_id"),
                cgroup_path=_expect(c.get("cgroup_path", ""), str, f"{where}.cgroup_path"),
                started_at_unix_ns=started, observed_from_unix_ns=started, observed_until_unix_ns=updated,
            ),
            files=files,
            total_events=_count(c.get("total_events", 0), f"{where}.total_events"),
        ))
    return pb.Batch(agent_id=f"push/{socket.gethostname()}", containers=containers,
                    dropped_events=dropped)


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
