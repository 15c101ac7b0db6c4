"""Prometheus metrics and health endpoints of the agent (``--metrics-listen``, default :9090).

The main loop owns every number; it publishes a snapshot each tick, and scrapes read the snapshot, so
the HTTP thread never touches BPF maps or the pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from snoop.common.version import VERSION


def metric(doc: str) -> Any:
    """A field of ``Counters`` or ``Gauges``: exported as ``snoop_<name>`` with ``doc`` as its help."""
    return field(default=0, metadata={"doc": doc})


@dataclass
class Counters:
    """Every counter the agent exports, named once: the main loop fills one per tick, by these names."""

    events_dropped: int = metric("Events lost because the ring buffer was full (counted in the kernel)")
    events_processed: int = metric("Events that reached userspace and named a new (container, path, kind)")
    events_repeated: int = metric("Accesses that ended in the kernel because the container already reported them")
    events_failed: int = metric("Syscalls that failed (ENOENT, EACCES, ...): not files of the image, not recorded")
    events_runtime: int = metric("Accesses and execs in a container's cgroup before its entrypoint's exec (the "
                                 "runtime's start-up, runc init or crun): not recorded")
    roots_refused: int = metric("Processes refused as a container's root because they were in the host's mount "
                                "namespace")
    process_table_full: int = metric("Processes the kernel could not mark as a container's (table full): their files "
                                     "are lost")
    path_read_errors: int = metric("Paths that could not be read whole from process memory")
    paths_unresolved: int = metric("Relative paths whose cwd or dirfd could not be learned")
    paths_unrooted: int = metric("Paths handled after every process of their container was gone and its root unpinned:"
                                 " symlinks on them not followed")
    paths_excluded: int = metric("Paths dropped by --exclude or because they lie on a volume mount")
    events_unattributed: int = metric("Events of cgroups that turned out not to be CRI containers")
    events_missing: int = metric("Failed lookups the kernel sent (of slim images' containers, and of new containers "
                                 "until their image is known)")
    missing_ignored: int = metric("Failed lookups dropped: their container's image is no slim image")
    missing_cut: int = metric("Failed lookups dropped past --max-missing of one container")
    pending_dropped: int = metric("Events dropped while waiting for the CRI, because the waiting room was full")
    files_overflowed: int = metric("Files not recorded because a container reached --max-unique-files")
    report_writes: int = metric("Report files written (--output)")
    report_write_errors: int = metric("Report writes that failed")
    batches_sent: int = metric("Batches sent to the collector (resends included)")
    batches_acked: int = metric("Batches the collector acknowledged")
    spool_dropped_files: int = metric("Files lost because the spool for an unreachable collector was full")
    spool_recovered_files: int = metric("Unacknowledged files agents that are gone left in --spool-dir, sent by this "
                                        "one")
    cri_errors: int = metric("Failed CRI calls")
    kube_api_errors: int = metric("Failed pod listings from the Kubernetes API (--kube-api)")
    event_errors: int = metric("Events whose handling failed in userspace (each one logged)")
    containers_forgotten: int = metric("Containers dropped from memory once gone and their files handed on")
    inventories_layers: int = metric("Image inventories sent, read from the image's overlayfs layers")
    inventories_rootfs: int = metric("Image inventories sent, read from a container's root (no overlayfs layers found)")
    inventory_files: int = metric("Files and symlinks sent in image inventories")
    inventory_errors: int = metric("Image inventories that failed (collector unreachable, container gone); tried again"
                                   " later")


@dataclass
class Gauges:
    """Every plain gauge the agent exports, named once."""

    unique_files: float = metric("Unique files tracked, all containers")
    containers: float = metric("Containers attributed on this node")
    pending_events: float = metric("Events waiting for their container to appear in the CRI")
    events_queued: float = metric("Events read from the ring buffer, waiting for the main loop (bounded; full, the "
                                  "kernel drops)")
    spool_files: float = metric("Files waiting for the collector's acknowledgement")
    collector_connected: float = metric("1 while the collector answers on the stream (its handshake was acknowledged)")
    previous_run_unclean: float = metric("1 when the previous agent was killed: files of its last batch interval come "
                                         "again only when touched again")


@dataclass
class Snapshot:
    syscalls: dict[str, int] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    gauges: Gauges = field(default_factory=Gauges)
    refused: dict[str, int] = field(default_factory=dict)  # reason -> files the collector refused


class AgentMetrics(Collector):
    def __init__(self) -> None:
        self._snapshot = Snapshot()
        self._lock = threading.Lock()
        self.last_tick = time.monotonic()
        self.ready = False

    def publish(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot
            self.last_tick = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snap = self._snapshot
        events = CounterMetricFamily("snoop_events", "Successful-or-not file syscalls seen in the kernel",
                                     labels=["syscall"])
        for name, value in sorted(snap.syscalls.items()):
            events.add_metric([name], value)
        yield events
        build = GaugeMetricFamily("snoop_build_info", "The snoop version this agent runs", labels=["version"])
        build.add_metric([VERSION], 1)
        yield build
        refused = CounterMetricFamily("snoop_files_refused", "Files the collector refused, by reason",
                                      labels=["reason"])
        for reason, files in sorted(snap.refused.items()):
            refused.add_metric([reason], files)
        yield refused
        for f in fields(Counters):
            yield CounterMetricFamily(f"snoop_{f.name}", f.metadata["doc"], value=getattr(snap.counters, f.name))
        for f in fields(Gauges):
            yield GaugeMetricFamily(f"snoop_{f.name}", f.metadata["doc"], value=getattr(snap.gauges, f.name))

    def healthy(self, max_silence_s: float = 30.0) -> bool:
        return time.monotonic() - self.last_tick < max_silence_s


def serve(metrics: AgentMetrics, host: str, port: int) -> ThreadingHTTPServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/metrics":
                self._reply(200, generate_latest(registry), "text/plain; version=0.0.4")
            elif self.path == "/healthz":
                ok = metrics.healthy()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"main loop stalled\n")
            elif self.path == "/readyz":
                self._reply(200 if metrics.ready else 503, b"ready\n" if metrics.ready else b"starting\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="snoop-metrics", daemon=True).start()
    return server
