"""The gRPC server: Ingest plus the standard health service; graceful stop finishes open batches."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker

from collector.auth import TokenInterceptor
from collector.config import CollectorConfig
from collector.ingest.servicer import IngestServicer
from collector.metrics import CollectorMetrics
from snoop.v1 import snoop_pb2_grpc as pb_grpc

SERVICE = "snoop.v1.Ingest"


def server_credentials(config: CollectorConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert:
        return None
    assert config.tls_key is not None
    client_ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def build_server(
    config: CollectorConfig, sessions: sessionmaker[Session], metrics: CollectorMetrics
) -> tuple[grpc.Server, int]:
    """Returns the started server and the port it bound (``grpc_port`` 0 picks a free one)."""
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
    ]
    interceptors = [TokenInterceptor(config.token)] if config.token else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.grpc_workers), options=options,
                         interceptors=interceptors)
    pb_grpc.add_IngestServicer_to_server(IngestServicer(sessions, metrics), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{config.grpc_host}:{config.grpc_port}"
    creds = server_credentials(config)
    port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
    server.start()
    for service in (SERVICE, ""):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return server, port
