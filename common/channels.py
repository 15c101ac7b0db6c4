"""One way to reach the collector's gRPC ingest, for the agent and ``snoop push`` alike: TLS when a CA or
a client certificate is given (mTLS with both), and the shared token as call metadata."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from snoop.common.settings import setting

# The flags of every command that talks to a collector (agent, push, queries): each declared once, here.


def collector_ca() -> Any:
    return setting("--tls-ca", "CA bundle that signed the collector's certificate (TLS)", parse=Path)


def client_cert() -> Any:
    return setting("--tls-cert", "client certificate, when the collector asks for one (mTLS)", parse=Path)


def client_key() -> Any:
    return setting("--tls-key", "client key for --tls-cert", parse=Path)


def collector_token() -> Any:
    return setting("--token", "bearer token, when the collector requires one (pair it with TLS)", secret=True)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path | None = None    # signed the collector's certificate; None: the system's roots
    cert: Path | None = None  # a client certificate, for a collector with --tls-client-ca
    key: Path | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert)


PLAINTEXT = TlsFiles()


def check_tls(cert: Path | None, key: Path | None, ca: Path | None, *, ca_flag: str = "--tls-ca") -> None:
    """The one check of every command's TLS files: half a configuration would serve plaintext or fail later
    with a traceback, so the certificate needs its key, each file must exist, and each is loaded as TLS will
    load it. A ValueError of one line naming the file and why (a garbage certificate, a key of another)."""
    if bool(cert) != bool(key):
        raise ValueError("--tls-cert and --tls-key go together: give both or neither")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key), (ca_flag, ca)):
        if path is not None and not path.is_file():
            raise ValueError(f"{flag} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"--tls-cert {cert} with --tls-key {key}: {_reason(exc)}") from None
    if ca is not None:
        try:
            context.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"{ca}: not a CA bundle TLS can load ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)
    if "KEY_VALUES_MISMATCH" in text:
        return "the key does not match the certificate"
    if "PEM" in text.upper() or "NO_START_LINE" in text:
        return "not a PEM certificate or key"
    return text.lower().replace("_", " ")


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
