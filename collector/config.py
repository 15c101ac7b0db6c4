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
    grpc_workers: int = 16
    max_message_bytes: int = 64 * 1024 * 1024
    shutdown_grace_s: float = 10.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    token: str | None = None
