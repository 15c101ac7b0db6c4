"""The agent's settings, filled from flags or SNOOP_* environment variables by cli/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AgentConfig:
    node_name: str
    cri_endpoint: str = "unix:///run/containerd/containerd.sock"
    collector: str | None = None          # HOST:PORT of the collector's gRPC ingest
    output: Path | None = None            # standalone: directory of per-pod seed reports
    interval_s: float = 30.0              # report writes
    batch_interval_s: float = 1.0         # batches to the collector
    excludes: tuple[bytes, ...] = (b"/proc/", b"/sys/", b"/dev/")
    exclude_mounts: bool = True
    max_unique_files: int = 100_000
    ring_buffer_pages: int = 1024         # 4 MiB with 4 KiB pages
    seen_entries: int = 262_144           # kernel LRU of (cgroup, path, kind) already reported
    max_spool_files: int = 1_000_000
    max_batch_files: int = 10_000         # files per batch: what the collector holds in memory at once
    spool_dir: Path | None = None          # unacknowledged batches on disk, for the next agent; None: memory
    max_pending_events: int = 100_000
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9090
    shutdown_timeout_s: float = 10.0
    prune_interval_s: float = 30.0        # gone containers are forgotten at the second prune that finds them
    proc_root: str = "/proc"
    cgroup_root: str | None = None        # cgroup2 mount; found in /proc/self/mounts when None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token: str | None = None
    kube_api: str | None = None           # API server URL for pod owners; None: guess from pod names
    kube_token_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    kube_ca_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")

    def __post_init__(self) -> None:
        """Half a TLS configuration would fail later with a traceback, or not at all: refuse it."""
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together: give both or neither")
        if self.max_batch_files < 1:
            raise ValueError("--max-batch-files must be at least 1")
        for name in ("tls_ca", "tls_cert", "tls_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"--{name.replace('_', '-')} {path}: no such file")
