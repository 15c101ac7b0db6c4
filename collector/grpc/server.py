"""The gRPC server: Ingest plus the standard health service, on asyncio in a thread of its own.

Each agent holds one stream for life, so streams must not cost a thread each: on grpc.aio an idle
stream is a suspended coroutine, and only the database writes run on a small pool of threads. The
number of streams is bounded by ``max_streams`` (far above a cluster's nodes per replica); a stream
that sends nothing for ``stream_idle_timeout_s`` is ended, and its agent opens a new one when it has
something to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.auth import TokenInterceptor
from snoop.collector.config import CollectorConfig
from snoop.collector.grpc.ingest import IngestServicer
from snoop.collector.grpc.inventory import InventoryServicer, single_writer_lock
from snoop.collector.metrics import CollectorMetrics
from snoop.common.settings import show_listen
from snoop.v1 import snoop_pb2_grpc as pb_grpc

SERVICES = ("snoop.v1.Ingest", "snoop.v1.Inventory")


def server_credentials(config: CollectorConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert:
        return None
    assert config.tls_key is not None  # CollectorConfig refuses a certificate without its key
    client_ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


class IngestServer:
    """A grpc.aio server on its own event loop thread; ``stop`` finishes open batches within a grace."""

    def __init__(self, config: CollectorConfig, sessions: sessionmaker[Session], metrics: CollectorMetrics,
                 write_lock: threading.Lock | contextlib.nullcontext | None = None) -> None:
        self._config = config
        self._writers = futures.ThreadPoolExecutor(max_workers=config.db_workers, thread_name_prefix="ingest-db")
        lock = write_lock if write_lock is not None else single_writer_lock(sessions)
        self._servicer = IngestServicer(sessions, metrics, self._writers, write_lock=lock,
                                        idle_timeout_s=config.stream_idle_timeout_s,
                                        max_files=config.max_message_files)
        self._inventory = InventoryServicer(sessions, metrics, self._writers, lock, max_files=config.max_message_files)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="grpc-ingest", daemon=True)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def _start(self) -> None:
        config = self._config
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ]
        interceptors = [TokenInterceptor(config.token)] if config.token else []
        self._server = server = grpc.aio.server(options=options, interceptors=interceptors,
                                                maximum_concurrent_rpcs=config.max_streams)
        pb_grpc.add_IngestServicer_to_server(self._servicer, server)
        pb_grpc.add_InventoryServicer_to_server(self._inventory, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        address = show_listen(config.grpc_listen)
        creds = server_credentials(config)
        self.port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
        await server.start()
        for service in (*SERVICES, ""):
            await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)

    def _serve(self) -> None:
        self._loop.run_forever()
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()

    def stop(self, grace_s: float | None) -> IngestServer:
        """Stops taking streams and lets open batches finish for ``grace_s``; ``wait`` for the end."""

        async def shutdown() -> None:
            if self._server is not None:
                await self._server.stop(grace_s)
            self._writers.shutdown(wait=True)
            self._loop.stop()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        return self

    def wait(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)


def build_server(
    config: CollectorConfig, sessions: sessionmaker[Session], metrics: CollectorMetrics,
    write_lock: threading.Lock | contextlib.nullcontext | None = None,
) -> tuple[IngestServer, int]:
    """Returns the started server and the port it bound (port 0 in ``grpc_listen`` picks a free one)."""
    server = IngestServer(config, sessions, metrics, write_lock)
    server.start()
    return server, server.port
