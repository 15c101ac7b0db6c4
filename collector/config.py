"""The collector's settings: each declared once, with its default, flag (``SNOOP_*`` variable) and help."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snoop.common.channels import check_tls
from snoop.common.limits import MESSAGE_FILES
from snoop.common.settings import duration, listen, setting, show_duration, show_listen

DEFAULT_DB = "sqlite:///snoop.db"  # a file beside where the collector runs: the quick start needs nothing else
GRPC_PORT = 50051  # agents and snoop push reach the ingest here
HTTP_PORT = 8080   # the REST API, the web view and every query command


@dataclass(frozen=True)
class CollectorConfig:
    db_url: str = setting("--db", "SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER:PASS@HOST/DB "
                          f"(default {DEFAULT_DB})", DEFAULT_DB, secret=True)
    grpc_listen: tuple[str, int] = setting("--grpc-listen", "gRPC ingest address", ("0.0.0.0", GRPC_PORT),
                                           parse=listen, show=show_listen)
    http_listen: tuple[str, int] = setting("--http-listen", "REST address (HTTPS with --tls-cert)",
                                           ("0.0.0.0", HTTP_PORT), parse=listen, show=show_listen)
    tls_cert: Path | None = setting("--tls-cert", "server certificate, for gRPC ingest and REST", parse=Path)
    tls_key: Path | None = setting("--tls-key", "server key for --tls-cert", parse=Path)
    tls_client_ca: Path | None = setting("--tls-client-ca", "require agents' certificates signed by this CA",
                                         parse=Path)
    token: str | None = setting("--token", "bearer token required on REST and gRPC", secret=True)
    max_streams: int = setting("--max-streams", "concurrent agent streams (one per node) this replica serves; "
                               "more wait and retry", 10_000, parse=int)
    stream_idle_timeout_s: float = setting("--stream-idle-timeout", "end an agent's stream after it sent nothing "
                                           "this long (it reconnects when it has news)", 300.0, parse=duration,
                                           show=show_duration)
    access_log: bool = setting("--access-log", "log every HTTP request (the request metrics count them anyway)",
                               False, boolean=True)
    max_message_files: int = setting("--max-message-files", "files one batch or inventory chunk may hold; more are "
                                     "refused with the reason, unread (agents and snoop push cut at 10,000): "
                                     "memory follows this, not what a sender sends", MESSAGE_FILES, parse=int)
    db_workers: int = setting("--db-workers", "threads writing batches to the database", 8, parse=int)
    retain_instances_s: float = setting("--retain-instances", "delete container instances not seen for this long "
                                        "(their files stay in their image's merged report); 0 keeps them all",
                                        30 * 86400.0, parse=duration, show=show_duration)
    retain_images_s: float = setting("--retain-images", "delete images not running for this long, with their "
                                     "reports, inventory and scans; 0 keeps them all", 90 * 86400.0,
                                     parse=duration, show=show_duration)
    retention_interval_s: float = setting("--retention-interval", "how often expired rows are looked for", 3600.0,
                                          parse=duration, show=show_duration)
    max_message_bytes: int = 64 * 1024 * 1024  # a batch the agent cuts at --max-batch-files stays far below
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        """Settings that would serve plaintext, or fail later with a traceback: refused now."""
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked "
                             "only over TLS")
        check_tls(self.tls_cert, self.tls_key, self.tls_client_ca, ca_flag="--tls-client-ca")
        from snoop.collector.storage.db import normalise_url  # noqa: PLC0415 - SQLAlchemy: the collector's, not every command's

        normalise_url(self.db_url)
        if self.retain_instances_s < 0 or self.retain_images_s < 0 or self.retention_interval_s <= 0:
            raise ValueError("--retain-instances and --retain-images must be 0 or more, --retention-interval positive")
        if self.max_streams < 1 or self.db_workers < 1 or self.stream_idle_timeout_s <= 0:
            raise ValueError("--max-streams, --db-workers and --stream-idle-timeout must be positive")
