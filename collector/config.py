"""The collector's settings, filled from flags or SNOOP_* environment variables by cli/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CollectorConfig:
    db_url: str = "sqlite:///snoop.db"
    grpc_host: str = "0.0.0.0"
    grpc_port: int = 50051
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    max_streams: int = 10_000             # concurrent agent streams per replica (one per node)
    stream_idle_timeout_s: float = 300.0  # a stream that sends nothing this long is ended
    db_workers: int = 8                   # threads writing batches to the database
    max_message_bytes: int = 64 * 1024 * 1024
    shutdown_grace_s: float = 10.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        """Half a TLS configuration would serve plaintext, or fail later with a traceback: refuse it."""
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together: give both or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked "
                             "only over TLS")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"--{name.replace('_', '-')} {path}: no such file")
        if self.max_streams < 1 or self.db_workers < 1 or self.stream_idle_timeout_s <= 0:
            raise ValueError("--max-streams, --db-workers and --stream-idle-timeout must be positive")
