"""The settings of the commands that talk to a collector or a node's containerd (push, the queries, demo),
declared as the agent's and the collector's are: each flag once, its default from where it is defined."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snoop.agent.config import CRI_ENDPOINT
from snoop.collector.config import GRPC_PORT, HTTP_PORT
from snoop.common.channels import client_cert, client_key, collector_ca, collector_token
from snoop.common.settings import setting

LOCAL_REST = f"http://127.0.0.1:{HTTP_PORT}"


@dataclass(frozen=True)
class RestClient:
    """Every query command's way to the collector's REST API."""

    server: str = setting("--server", "the collector's REST address (https:// with TLS)", LOCAL_REST)
    token: str | None = collector_token()
    tls_ca: Path | None = collector_ca()


@dataclass(frozen=True)
class PushSettings:
    collector: str = setting("--collector", "HOST:PORT of the collector's gRPC ingest", f"127.0.0.1:{GRPC_PORT}")
    node: str | None = setting("--node", "node name for reports that carry none")
    image_digest: str | None = setting("--image-digest", "image digest for reports that carry none (original sidecar)")
    token: str | None = collector_token()
    tls_ca: Path | None = collector_ca()
    tls_cert: Path | None = client_cert()
    tls_key: Path | None = client_key()


@dataclass(frozen=True)
class DemoSettings:
    cri_endpoint: str = setting("--cri-endpoint", "CRI socket (containerd)", CRI_ENDPOINT)
    server: str = setting("--server", "the collector's REST address, for the sample reports", LOCAL_REST)
