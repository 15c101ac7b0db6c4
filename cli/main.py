"""``snoop``: one command for the node agent, the collector, and queries against a collector."""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.logs import configure
from cli.options import add, duration, listen
from common import kinds

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from collector.config import CollectorConfig

EXAMPLES = """examples:
  snoop collector --db sqlite:///snoop.db             # REST on :8080, gRPC ingest on :50051
  snoop agent --collector collector:50051             # trace this node's containers, stream to it
  snoop agent --output /var/lib/snoop/reports         # standalone: seed-format JSON per pod
  snoop push --collector collector:50051 reports/*.json
  snoop images                                        # what ran, as a table
  snoop files registry/app:1.2 --format text > keep.txt
  snoop diff registry/app:1.2 registry/app:1.3
"""


def _agent_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="trace this node's containers (BPF) and report their files")
    add(p, "--node-name", default=os.environ.get("NODE_NAME") or socket.gethostname(),
        help="node name in reports (also NODE_NAME)")
    add(p, "--cri-endpoint", default="unix:///run/containerd/containerd.sock", help="CRI socket")
    add(p, "--collector", default=None, help="HOST:PORT of the collector's gRPC ingest")
    add(p, "--output", type=Path, default=None, help="directory for per-pod JSON reports (standalone)")
    add(p, "--interval", type=duration, default=30.0, help="report write interval")
    add(p, "--batch-interval", type=duration, default=1.0, help="how often new files go to the collector")
    add(p, "--exclude", default="/proc/,/sys/,/dev/", help="comma-separated path prefixes to leave out")
    add(p, "--exclude-mounts", action=argparse.BooleanOptionalAction, default=True,
        help="leave out files on the container's volume, configmap and secret mounts")
    add(p, "--max-unique-files", type=int, default=100_000, help="per container; 0 = unbounded")
    add(p, "--ring-buffer-pages", type=int, default=1024, help="BPF ring buffer size in pages (power of 2)")
    add(p, "--seen-entries", type=int, default=262_144, help="kernel dedup LRU entries")
    add(p, "--max-spool-files", type=int, default=1_000_000,
        help="files held while the collector is unreachable")
    add(p, "--max-batch-files", type=int, default=10_000, help="files per batch sent to the collector")
    add(p, "--spool-dir", default="/var/lib/snoop/spool",
        help="unacknowledged batches on disk, so a restarted agent sends them; '' keeps them in memory only")
    add(p, "--metrics-listen", type=listen, default=listen(":9090"), help="metrics and health endpoint")
    add(p, "--shutdown-timeout", type=duration, default=10.0, help="time to flush on SIGTERM")
    add(p, "--prune-interval", type=duration, default=30.0,
        help="how often containers that are gone are looked for; found twice, they are forgotten")
    add(p, "--proc-root", default="/proc", help="the host's /proc as mounted in the agent")
    add(p, "--cgroup-root", default=None, help="cgroup2 mount (found in /proc/self/mounts if unset)")
    add(p, "--tls-ca", type=Path, default=None, help="CA bundle that signed the collector's certificate")
    add(p, "--tls-cert", type=Path, default=None, help="client certificate for mTLS")
    add(p, "--tls-key", type=Path, default=None, help="client key for mTLS")
    add(p, "--token", default=None, secret=True, help="bearer token sent to the collector (pair it with TLS)")
    add(p, "--kube-api", default=None,
        help="Kubernetes API URL for pods' owners (e.g. https://kubernetes.default.svc); unset: guess from names")
    add(p, "--kube-token-file", type=Path, default=Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        help="service account token for --kube-api")
    add(p, "--kube-ca-file", type=Path, default=Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"),
        help="CA bundle for --kube-api")
    p.add_argument("--ebpf", action="store_true", help="print the BPF program and its -D flags, then exit")
    p.set_defaults(run=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    from agent.app import run_agent
    from agent.spool import SpoolError
    from agent.tracer import TracerError, cflags, program_text, tracefs

    if args.ebpf:  # what would be compiled on this machine: needs no privileges
        try:
            flags = cflags(ringbuf_pages=args.ring_buffer_pages, seen_entries=args.seen_entries, tracefs=tracefs())
        except TracerError as exc:
            print(f"snoop agent: {exc}", file=sys.stderr)
            return 2
        print(f"// cflags: {' '.join(flags)}\n{program_text()}", end="")
        return 0

    if not args.collector and not args.output:
        print("snoop agent: give --collector HOST:PORT, --output DIR, or both", file=sys.stderr)
        return 2
    try:
        config = agent_config(args)
    except ValueError as exc:
        print(f"snoop agent: {exc}", file=sys.stderr)
        return 2
    try:
        return run_agent(config)
    except (TracerError, SpoolError) as exc:
        print(f"snoop agent: {exc}", file=sys.stderr)
        return 1


def agent_config(args: argparse.Namespace) -> AgentConfig:
    from agent.config import AgentConfig  # noqa: PLC0415 - the agent's imports only where it runs

    return AgentConfig(
        node_name=args.node_name,
        cri_endpoint=args.cri_endpoint,
        collector=args.collector,
        output=args.output,
        interval_s=args.interval,
        batch_interval_s=args.batch_interval,
        excludes=tuple(os.fsencode(p) for p in args.exclude.split(",") if p),
        exclude_mounts=args.exclude_mounts,
        max_unique_files=args.max_unique_files,
        ring_buffer_pages=args.ring_buffer_pages,
        seen_entries=args.seen_entries,
        max_spool_files=args.max_spool_files,
        max_batch_files=args.max_batch_files,
        spool_dir=Path(args.spool_dir) if args.spool_dir else None,
        metrics_host=args.metrics_listen[0],
        metrics_port=args.metrics_listen[1],
        shutdown_timeout_s=args.shutdown_timeout,
        prune_interval_s=args.prune_interval,
        proc_root=args.proc_root,
        cgroup_root=args.cgroup_root,
        tls_ca=args.tls_ca,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        token=args.token,
        kube_api=args.kube_api,
        kube_token_file=args.kube_token_file,
        kube_ca_file=args.kube_ca_file,
    )


def _collector_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collector", help="receive agents' streams, store them, serve the REST API")
    add(p, "--db", default="sqlite:///snoop.db", secret=True,
        help="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER:PASS@HOST/DB (default sqlite:///snoop.db)")
    add(p, "--grpc-listen", type=listen, default=listen(":50051"), help="gRPC ingest address")
    add(p, "--http-listen", type=listen, default=listen(":8080"), help="REST address")
    add(p, "--tls-cert", type=Path, default=None, help="server certificate for the gRPC ingest")
    add(p, "--tls-key", type=Path, default=None, help="server key for the gRPC ingest")
    add(p, "--tls-client-ca", type=Path, default=None, help="require client certificates signed by this CA")
    add(p, "--token", default=None, secret=True, help="bearer token required on REST and gRPC")
    add(p, "--max-streams", type=int, default=10_000,
        help="concurrent agent streams (one per node) this replica serves; more wait and retry")
    add(p, "--stream-idle-timeout", type=duration, default=300.0,
        help="end an agent's stream after it sent nothing this long (it reconnects when it has news)")
    add(p, "--db-workers", type=int, default=8, help="threads writing batches to the database")
    p.set_defaults(run=_run_collector)


def _run_collector(args: argparse.Namespace) -> int:
    from collector.app import run_collector

    try:
        config = collector_config(args)
    except ValueError as exc:
        print(f"snoop collector: {exc}", file=sys.stderr)
        return 2
    return run_collector(config)


def collector_config(args: argparse.Namespace) -> CollectorConfig:
    from collector.config import CollectorConfig  # noqa: PLC0415

    return CollectorConfig(
        db_url=args.db,
        grpc_host=args.grpc_listen[0],
        grpc_port=args.grpc_listen[1],
        http_host=args.http_listen[0],
        http_port=args.http_listen[1],
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        token=args.token,
        max_streams=args.max_streams,
        stream_idle_timeout_s=args.stream_idle_timeout,
        db_workers=args.db_workers,
    )


def _push_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="send seed-format JSON reports into a collector")
    add(p, "--collector", default="127.0.0.1:50051", help="HOST:PORT of the collector's gRPC ingest")
    add(p, "--node", default=None, help="node name for reports that carry none")
    add(p, "--image-digest", default=None, help="image digest for reports that carry none (original sidecar)")
    add(p, "--token", default=None, secret=True, help="bearer token, when the collector requires one")
    add(p, "--tls-ca", type=Path, default=None, help="CA bundle that signed the collector's certificate (TLS)")
    add(p, "--tls-cert", type=Path, default=None, help="client certificate, when the collector asks for one")
    add(p, "--tls-key", type=Path, default=None, help="client key for --tls-cert")
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    p.set_defaults(run=_run_push)


def _run_push(args: argparse.Namespace) -> int:
    from cli.push import push
    from common.channels import TlsFiles

    if bool(args.tls_cert) != bool(args.tls_key):
        print("snoop push: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    tls = TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
    return push(args.collector, args.reports, node=args.node, image_digest=args.image_digest, token=args.token,
                tls=tls)


def _query_parsers(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser, formats: list[str]) -> None:
        add(p, "--server", default="http://127.0.0.1:8080", help="the collector's REST address (https:// with TLS)")
        add(p, "--token", default=None, secret=True, help="bearer token, when the collector requires one")
        add(p, "--tls-ca", type=Path, default=None, help="CA bundle that signed the collector's certificate")
        p.add_argument("--format", choices=formats, default=formats[0], help="output format")

    p = sub.add_parser("images", help="list the images seen running")
    common(p, ["table", "json", "text"])
    p.set_defaults(run=lambda a: _query(a, lambda q: q.images(a.server, a.format, a.token)))
    p = sub.add_parser("files", help="files of an image, merged across pods, nodes and restarts")
    common(p, ["table", "json", "text"])
    p.add_argument("image", help="digest (sha256:…) or reference (the digest last seen under it)")
    p.add_argument("--prefix", default=None, help="only paths under this prefix")
    p.add_argument("--kind", action="append", default=[], choices=kinds.NAMES, help="only files used this way")
    p.set_defaults(run=lambda a: _query(a, lambda q: q.files(a.server, a.image, a.format, a.token, a.prefix,
                                                             a.kind)))
    p = sub.add_parser("diff", help="how file usage changed between two images")
    common(p, ["table", "json", "text"])
    p.add_argument("base")
    p.add_argument("head")
    p.set_defaults(run=lambda a: _query(a, lambda q: q.diff(a.server, a.base, a.head, a.format, a.token)))


def _query(args: argparse.Namespace, ask: Callable[[Any], str | bytes]) -> int:
    from cli import query

    if args.tls_ca:
        query.VERIFY = ssl.create_default_context(cafile=args.tls_ca)
    try:
        query.write(ask(query))
    except query.QueryError as exc:
        print(f"snoop: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snoop",
        description="Which files do container images really use at run time?",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add(parser, "--log-level", default="info", choices=["debug", "info", "warning", "error"],
        help="log verbosity")
    sub = parser.add_subparsers(dest="command", required=True)
    _agent_parser(sub)
    _collector_parser(sub)
    _push_parser(sub)
    _query_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(args.log_level)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
