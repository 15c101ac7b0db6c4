"""One way to reach the collector's gRPC ingest, for the agent and ``snoop push`` alike: TLS when a CA or
a client certificate is given (mTLS with both), and the shared token as call metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class TlsFiles:
    ca: Path | None = None    # signed the collector's certificate; None: the system's roots
    cert: Path | None = None  # a client certificate, for a collector with --tls-client-ca
    key: Path | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert)


PLAINTEXT = TlsFiles()


def credentials(tls: TlsFiles) -> grpc.ChannelCredentials | None:
    if not tls.enabled:
        return None
    read = lambda p: p.read_bytes() if p else None  # noqa: E731
    return grpc.ssl_channel_credentials(read(tls.ca), read(tls.key), read(tls.cert))


def open_channel(target: str, tls: TlsFiles) -> grpc.Channel:
    creds = credentials(tls)
    return grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)


def token_metadata(token: str | None) -> list[tuple[str, str]] | None:
    return [("authorization", f"Bearer {token}")] if token else None
