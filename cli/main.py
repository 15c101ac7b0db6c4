"""``snoop``: one command for the node agent, the collector, and queries against a collector."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from snoop.agent.config import CRI_ENDPOINT
from snoop.cli.logs import configure
from snoop.cli.options import add, add_config_flags, unknown_variables
from snoop.cli.query import FORMATS, VULN_FORMATS
from snoop.cli.settings import DemoSettings, PushSettings, RestClient
from snoop.common import kinds
from snoop.common.settings import from_args
from snoop.common.version import VERSION

LOG_LEVELS = ["debug", "info", "warning", "error"]

EXAMPLES = """examples:
  snoop collector --db sqlite:///snoop.db             # REST on :8080, gRPC ingest on :50051
  snoop agent --collector collector:50051             # trace this node's containers, stream to it
  snoop agent --output /var/lib/snoop/reports         # standalone: seed-format JSON per pod
  snoop push --collector collector:50051 reports/*.json
  snoop images                                        # what ran, as a table
  snoop files registry/app:1.2 --format text > keep.txt
  snoop summary registry/app:1.2                      # used vs unused files, bytes, packages
  snoop files registry/app:1.2 --unused -o text       # the remove list
  snoop packages registry/app:1.2 --unused
  snoop vulns registry/app:1.2 trivy.json             # which of the scanner's CVEs sit in used code
  snoop sbom registry/app:1.2 --used > used.cdx.json  # a filtered SBOM to scan again
  snoop diff registry/app:1.2 registry/app:1.3
"""


def _agent_parser(sub: argparse._SubParsersAction) -> None:
    from snoop.agent.config import AgentConfig  # noqa: PLC0415 - settings only; the agent itself loads on run

    p = sub.add_parser("agent", help="trace this node's containers (BPF) and report their files")
    add_config_flags(p, AgentConfig)
    p.add_argument("--ebpf", action="store_true", help="print the BPF program and its -D flags, then exit")
    p.set_defaults(run=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    from snoop.agent.app import run_agent
    from snoop.agent.spool import SpoolError
    from snoop.agent.tracer import TracerError, cflags, program_text, tracefs

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
    from snoop.agent.config import AgentConfig

    try:
        config = from_args(AgentConfig, args)
    except ValueError as exc:
        print(f"snoop agent: {exc}", file=sys.stderr)
        return 2
    try:
        return run_agent(config)
    except (TracerError, SpoolError) as exc:
        print(f"snoop agent: {exc}", file=sys.stderr)
        return 1


def _collector_parser(sub: argparse._SubParsersAction) -> None:
    from snoop.collector.config import CollectorConfig  # noqa: PLC0415

    p = sub.add_parser("collector", help="receive agents' streams, store them, serve the REST API")
    add_config_flags(p, CollectorConfig)
    p.set_defaults(run=_run_collector)


def _run_collector(args: argparse.Namespace) -> int:
    from snoop.collector.app import run_collector
    from snoop.collector.config import CollectorConfig

    try:
        config = from_args(CollectorConfig, args)
    except ValueError as exc:
        print(f"snoop collector: {exc}", file=sys.stderr)
        return 2
    return run_collector(config)


def _push_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="send seed-format JSON reports into a collector")
    add_config_flags(p, PushSettings)
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    p.set_defaults(run=_run_push)


def _run_push(args: argparse.Namespace) -> int:
    from snoop.cli.push import push
    from snoop.common.channels import TlsFiles, check_tls

    try:
        check_tls(args.tls_cert, args.tls_key, args.tls_ca)
    except ValueError as exc:
        print(f"snoop push: {exc}", file=sys.stderr)
        return 2
    tls = TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
    return push(args.collector, args.reports, node=args.node, image_digest=args.image_digest, token=args.token,
                tls=tls)


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run two versions of a sample app as pods through the CRI, to see snoop "
                                    "work on a bare machine (make run does, unless DEMO=0)")
    add_config_flags(p, DemoSettings)
    p.add_argument("--stop", action="store_true", help="remove the demo's pods")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from snoop.cli import demo

    try:
        print(demo.stop(args.cri_endpoint) if args.stop else demo.start(args.cri_endpoint, args.server), flush=True)
    except (grpc.RpcError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) \
            else exc.details()
        print(f"snoop demo: {detail}", file=sys.stderr)
        return 1
    return 0


def _image_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="digest, digest prefix (12+ hex digits) or reference (busybox, app:1.2)")


def _query_parsers(sub: argparse._SubParsersAction) -> None:
    def connect(p: argparse.ArgumentParser) -> None:
        add_config_flags(p, RestClient)

    def common(p: argparse.ArgumentParser, formats: list[str] = FORMATS,
               described: str = "table, json, yaml, csv or text (one item per line: a keep-list for files)") -> None:
        connect(p)
        p.add_argument("-o", "--output", "--format", dest="format", choices=formats, default=formats[0],
                       help=described)

    def recent(p: argparse.ArgumentParser) -> None:
        p.add_argument("--since", default=None, help="only what was seen since: 1h, 2d, or an ISO 8601 time")
        p.add_argument("--limit", type=int, default=None, help="at most this many")

    p = sub.add_parser("images", help="list the images seen running, newest first")
    common(p)
    recent(p)
    p.add_argument("-n", "--namespace", default=None, help="only images run in this namespace")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.images(s, a.format, a.namespace, a.since, a.limit)))
    p = sub.add_parser("files", help="files of an image, merged across pods, nodes and restarts")
    common(p)
    recent(p)
    _image_argument(p)
    p.add_argument("--prefix", default=None, help="only paths under this prefix")
    p.add_argument("--kind", action="append", default=[], choices=kinds.NAMES, help="only files used this way")
    p.add_argument("--unused", action="store_true",
                   help="the image's files that no container used, with size and package: the remove list")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.files(s, a.image, a.format, a.prefix, a.kind, a.since,
                                                                a.limit, a.unused)))
    p = sub.add_parser("summary", help="what an image holds against what its containers used: files, bytes, "
                                       "packages, and how much observation that rests on")
    common(p)
    _image_argument(p)
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.summary(s, a.image, a.format)))
    p = sub.add_parser("packages", help="an image's packages (deb, apk, python, npm) with their files and bytes, "
                                        "used and not")
    common(p)
    _image_argument(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--unused", dest="used", action="store_false", default=None,
                       help="only packages none of whose files any container used")
    which.add_argument("--used", dest="used", action="store_true", help="only packages some container used")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.packages(s, a.image, a.format, a.used)))
    p = sub.add_parser("vulns", help="a scanner's findings (Trivy, Grype, CycloneDX, SPDX) judged by what the image's "
                                     "containers really used: in use, not in use, unknown")
    common(p, VULN_FORMATS, "table, json, yaml or openvex (a VEX document)")
    _image_argument(p)
    p.add_argument("report", nargs="?", default=None,
                   help="a scanner's JSON report of the image to upload first; without it, the stored one")
    p.add_argument("--scanner", default=None, choices=["trivy", "grype", "cyclonedx"],
                   help="which stored report (default: the latest)")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.vulns(s, a.image, a.format, a.report, a.scanner)))
    p = sub.add_parser("sbom", help="CycloneDX 1.5 SBOM of the image's packages: the used ones, to scan again")
    common(p, ["json"], "json (CycloneDX)")
    _image_argument(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--used", dest="used", action="store_const", const="true", default="true",
                       help="the packages some container used (the default)")
    which.add_argument("--unused", dest="used", action="store_const", const="false", help="the others")
    which.add_argument("--all", dest="used", action="store_const", const="all", help="every package")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.sbom(s, a.image, a.used)))
    p = sub.add_parser("diff", help="how file usage changed between two images")
    common(p)
    p.add_argument("base", help="the image before (digest, digest prefix or reference)")
    p.add_argument("head", help="the image after")
    p.add_argument("--exit-code", type=int, default=0, metavar="N",
                   help="exit with N when head uses files base does not: an image slimmed to base's keep-list "
                        "would break (a CI gate)")
    p.set_defaults(run=_diff)
    _slim_parser(sub, connect)
    p = sub.add_parser("verify", help="whether a slim image ran on what it kept: what its containers looked for "
                                      "and did not find, that its base holds")
    common(p)
    p.add_argument("image", help="the slim image (digest, digest prefix or reference)")
    p.add_argument("--exit-code", type=int, default=0, metavar="N",
                   help="exit with N when the slim image is broken (a canary or CI gate)")
    p.set_defaults(run=_verify)
    p = sub.add_parser("workloads", help="Deployments, StatefulSets, … and their pods, containers and images")
    common(p)
    p.add_argument("-n", "--namespace", default=None, help="only this namespace")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.workloads(s, a.format, a.namespace)))
    p = sub.add_parser("harden", help="a workload's containers with a read-only root filesystem: the directories "
                                      "they wrote to, and the patch that mounts exactly those writable")
    common(p, ["yaml", "json", "table"], "yaml (the patch, for kustomize's patches: or kubectl patch), json (the "
                                         "whole answer) or table (the directories)")
    p.add_argument("workload", help="NAMESPACE/NAME, as `snoop workloads` lists it")
    p.set_defaults(run=lambda a: _query(a, lambda q, s: q.harden(s, a.workload, a.format)))


def _slim_parser(sub: argparse._SubParsersAction, connect: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("slim", help="build a slim image holding only what the image's containers used, from its "
                                    "layers (containerd's, or an OCI layout); prints its manifest digest")
    connect(p)
    _image_argument(p)
    add(p, "--containerd", default=CRI_ENDPOINT,
        help="containerd's socket: where the base's layers are read and the slim image is imported")
    add(p, "--namespace", default="k8s.io", help="containerd namespace (k8s.io: the CRI's)")
    p.add_argument("--from-oci-layout", type=Path, default=None, metavar="DIR",
                   help="read the base from this OCI layout (skopeo copy … oci:DIR) instead of containerd")
    p.add_argument("--tag", default=None, help="the slim image's name in containerd (default: the base's "
                                               "repository, tag <tag>-slim)")
    p.add_argument("--oci-layout", type=Path, default=None, metavar="DIR", help="write an OCI layout here instead")
    p.add_argument("--output", dest="archive", type=Path, default=None, metavar="FILE.tar",
                   help="write an OCI archive (ctr import, skopeo copy oci-archive:) instead")
    p.add_argument("--include", action="append", default=[], metavar="PATH",
                   help="keep this path too (a directory with all it holds); repeatable")
    p.add_argument("--include-file", type=Path, default=None, metavar="FILE",
                   help="keep the paths listed in FILE, one per line (SlimToolkit's --include-path-file)")
    p.add_argument("--exclude", action="append", default=[], metavar="PATH", help="leave this path out; repeatable")
    p.add_argument("--coherent", choices=["packages"], default=None,
                   help="packages: keep every file of each package that has a used file (interpreters whose "
                        "failed imports the kernel cannot see)")
    p.set_defaults(run=_slim)


def _slim(args: argparse.Namespace) -> int:
    from snoop.cli import query
    from snoop.cli.slim.command import Request, main

    server = query.Server(args.server, args.token, query.tls_context(args.tls_ca))
    return main(Request(args.image, server, args.containerd, args.namespace, args.from_oci_layout, args.tag,
                        args.oci_layout, args.archive, args.include, args.include_file, args.exclude,
                        args.coherent == "packages"))


def _verify(args: argparse.Namespace) -> int:
    broken = False

    def ask(q: Any, server: Any) -> bytes:
        nonlocal broken
        out, broken = q.verify(server, args.image, args.format)
        return out

    failed = _query(args, ask)
    return failed or (args.exit_code if broken else 0)


def _diff(args: argparse.Namespace) -> int:
    added = 0

    def ask(q: Any, server: Any) -> bytes:
        nonlocal added
        out, added = q.diff(server, args.base, args.head, args.format)
        return out

    failed = _query(args, ask)
    return failed or (args.exit_code if added else 0)


def _query(args: argparse.Namespace, ask: Callable[[Any, Any], bytes]) -> int:
    from snoop.cli import query

    server = query.Server(args.server, args.token, query.tls_context(args.tls_ca))
    try:
        query.write(ask(query, server))
    except query.QueryError as exc:
        print(f"snoop: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snoop", allow_abbrev=False,
        description="Which files do container images really use at run time?",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"snoop {VERSION}")
    add(parser, "--log-level", default="info", choices=LOG_LEVELS, help="log verbosity")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_SubParser)
    _agent_parser(sub)
    _collector_parser(sub)
    _push_parser(sub)
    _demo_parser(sub)
    _query_parsers(sub)
    return parser


class _SubParser(argparse.ArgumentParser):
    """Every command also takes --log-level, after its name as before it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "allow_abbrev": False})  # --serv is no --server: later flags stay free
        self.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                          help="log verbosity (also before the command)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    typos = unknown_variables(dict(os.environ))
    if typos:
        print("snoop: " + "; ".join(typos), file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    configure(args.log_level)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
