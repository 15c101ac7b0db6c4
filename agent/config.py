"""The agent's settings: each declared once, with its default, flag (``SNOOP_*`` variable) and help."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from snoop.common.channels import check_tls, client_cert, client_key, collector_ca, collector_token
from snoop.common.limits import MESSAGE_FILES
from snoop.common.settings import (
    byte_prefixes,
    duration,
    listen,
    optional_path,
    setting,
    show_byte_prefixes,
    show_duration,
    show_listen,
)

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CRI_ENDPOINT = "unix:///run/containerd/containerd.sock"  # containerd's socket: what the demo and slim reach too


@dataclass(frozen=True)
class AgentConfig:
    node_name: str = setting("--node-name", "node name in reports (also NODE_NAME)",
                             factory=lambda: os.environ.get("NODE_NAME") or socket.gethostname())
    cri_endpoint: str = setting("--cri-endpoint", "CRI socket", CRI_ENDPOINT)
    collector: str | None = setting("--collector", "HOST:PORT of the collector's gRPC ingest")
    output: Path | None = setting("--output", "directory for per-pod JSON reports (standalone)", parse=Path)
    interval_s: float = setting("--interval", "report write interval", 30.0, parse=duration, show=show_duration)
    batch_interval_s: float = setting("--batch-interval", "how often new files go to the collector", 1.0,
                                      parse=duration, show=show_duration)
    excludes: tuple[bytes, ...] = setting("--exclude", "comma-separated path prefixes to leave out",
                                          (b"/proc/", b"/sys/", b"/dev/"), parse=byte_prefixes,
                                          show=show_byte_prefixes)
    exclude_mounts: bool = setting("--exclude-mounts", "leave out files on the container's volume, configmap and "
                                   "secret mounts", True, boolean=True)
    max_unique_files: int = setting("--max-unique-files", "per container; 0 = unbounded", 100_000, parse=int)
    ring_buffer_pages: int = setting("--ring-buffer-pages", "BPF ring buffer size in pages (power of 2)", 1024,
                                     parse=int)
    seen_entries: int = setting("--seen-entries", "kernel dedup LRU entries", 262_144, parse=int)
    max_spool_files: int = setting("--max-spool-files", "files held while the collector is unreachable",
                                   1_000_000, parse=int)
    max_batch_files: int = setting("--max-batch-files", "files per batch sent to the collector: what it holds "
                                   "in memory at once", MESSAGE_FILES, parse=int)
    spool_dir: Path | None = setting("--spool-dir", "unacknowledged batches on disk, so a restarted agent sends "
                                     "them; '' keeps them in memory only", Path("/var/lib/snoop/spool"),
                                     parse=optional_path)
    heartbeat_interval_s: float = setting("--heartbeat-interval", "how often running containers are reported "
                                          "as seen even without new files, so their and their image's "
                                          "last_seen keep moving", 60.0, parse=duration, show=show_duration)
    inventory: bool = setting("--inventory", "record each image's files and packages once per cluster (with "
                              "--collector), so reports can tell used from unused", True, boolean=True)
    host_root: str = setting("--host-root", "where the host's filesystem is reachable (image layers are read "
                             "there; with hostPID /proc/1/root, else the agent's own /)", "/proc/1/root")
    max_pending_events: int = 100_000       # events waiting for the CRI to name their container
    max_missing: int = setting("--max-missing", "failed lookups recorded per container of a slim image (what it "
                               "lacks); more are counted, not kept", 1000, parse=int)
    metrics_listen: tuple[str, int] = setting("--metrics-listen", "metrics and health endpoint", ("0.0.0.0", 9090),
                                              parse=listen, show=show_listen)
    shutdown_timeout_s: float = setting("--shutdown-timeout", "time to flush on SIGTERM", 10.0, parse=duration,
                                        show=show_duration)
    prune_interval_s: float = setting("--prune-interval", "how often containers that are gone are looked for; "
                                      "found twice, they are forgotten", 30.0, parse=duration, show=show_duration)
    proc_root: str = setting("--proc-root", "the host's /proc as mounted in the agent", "/proc")
    cgroup_root: str | None = setting("--cgroup-root", "cgroup2 mount (found in /proc/self/mounts if unset)")
    tls_ca: Path | None = collector_ca()
    tls_cert: Path | None = client_cert()
    tls_key: Path | None = client_key()
    token: str | None = collector_token()
    kube_api: str | None = setting("--kube-api", "Kubernetes API URL for pods' owners (e.g. "
                                   "https://kubernetes.default.svc); unset: guess from names")
    kube_token_file: Path = setting("--kube-token-file", "service account token for --kube-api",
                                    SERVICE_ACCOUNT / "token", parse=Path)
    kube_ca_file: Path = setting("--kube-ca-file", "CA bundle for --kube-api", SERVICE_ACCOUNT / "ca.crt",
                                 parse=Path)

    def __post_init__(self) -> None:
        """Settings that would fail later with a traceback, or not at all: refused now."""
        if self.max_batch_files < 1:
            raise ValueError("--max-batch-files must be at least 1")
        check_tls(self.tls_cert, self.tls_key, self.tls_ca)
