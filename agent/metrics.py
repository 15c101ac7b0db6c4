"""Prometheus metrics and health endpoints of the agent (``--metrics-listen``, default :9090).

The main loop owns every number; it publishes a snapshot each tick, and scrapes read the snapshot, so
the HTTP thread never touches BPF maps or the pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from snoop.common.version import VERSION

COUNTERS = {
    "events_dropped": "Events lost because the ring buffer was full (counted in the kernel)",
    "events_processed": "Events that reached userspace and named a new (container, path, kind)",
    "events_repeated": "Accesses that ended in the kernel because the container already reported them",
    "events_failed": "Syscalls that failed (ENOENT, EACCES, ...): not files of the image, not recorded",
    "events_runtime": "Accesses and execs in a container's cgroup before its entrypoint's exec (the "
                      "runtime's start-up, runc init or crun): not recorded",
    "roots_refused": "Processes refused as a container's root because they were in the host's mount namespace",
    "process_table_full": "Processes the kernel could not mark as a container's (table full): their files are lost",
    "path_read_errors": "Paths that could not be read whole from process memory",
    "paths_unresolved": "Relative paths whose cwd or dirfd could not be learned",
    "paths_unrooted": "Paths handled after every process of their container was gone and its root unpinned: "
                      "symlinks on them not followed",
    "paths_excluded": "Paths dropped by --exclude or because they lie on a volume mount",
    "events_unattributed": "Events of cgroups that turned out not to be CRI containers",
    "events_missing": "Failed lookups the kernel sent (of slim images' containers, and of new containers "
                      "until their image is known)",
    "missing_ignored": "Failed lookups dropped: their container's image is no slim image",
    "missing_cut": "Failed lookups dropped past --max-missing of one container",
    "pending_dropped": "Events dropped while waiting for the CRI, because the waiting room was full",
    "files_overflowed": "Files not recorded because a container reached --max-unique-files",
    "report_writes": "Report files written (--output)",
    "report_write_errors": "Report writes that failed",
    "batches_sent": "Batches sent to the collector (resends included)",
    "batches_acked": "Batches the collector acknowledged",
    "spool_dropped_files": "Files lost because the spool for an unreachable collector was full",
    "spool_recovered_files": "Unacknowledged files agents that are gone left in --spool-dir, sent by this one",
    "cri_errors": "Failed CRI calls",
    "kube_api_errors": "Failed pod listings from the Kubernetes API (--kube-api)",
    "event_errors": "Events whose handling failed in userspace (each one logged)",
    "containers_forgotten": "Containers dropped from memory once gone and their files handed on",
    "inventories_layers": "Image inventories sent, read from the image's overlayfs layers",
    "inventories_rootfs": "Image inventories sent, read from a container's root (no overlayfs layers found)",
    "inventory_files": "Files and symlinks sent in image inventories",
    "inventory_errors": "Image inventories that failed (collector unreachable, container gone); tried again later",
}
GAUGES = {
    "unique_files": "Unique files tracked, all containers",
    "containers": "Containers attributed on this node",
    "pending_events": "Events waiting for their container to appear in the CRI",
    "events_queued": "Events read from the ring buffer, waiting for the main loop (bounded; full, the kernel drops)",
    "spool_files": "Files waiting for the collector's acknowledgement",
    "collector_connected": "1 while the collector answers on the stream (its handshake was acknowledged)",
    "previous_run_unclean": "1 when the previous agent was killed: files of its last batch interval come again "
                            "only when touched again",
}


@dataclass
class Snapshot:
    syscalls: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
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
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"snoop_{name}", doc, value=snap.counters.get(name, 0))
        for name, doc in GAUGES.items():
            yield GaugeMetricFamily(f"snoop_{name}", doc, value=snap.gauges.get(name, 0))

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
