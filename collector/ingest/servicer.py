"""The Ingest gRPC service: thin; validation and writes live in collector.storage.ingest."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import grpc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from collector.ingest.convert import containers_from_batch
from collector.metrics import CollectorMetrics
from collector.storage.ingest import InvalidBatch, ingest
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class IngestServicer(pb_grpc.IngestServicer):
    def __init__(self, sessions: sessionmaker[Session], metrics: CollectorMetrics) -> None:
        self._sessions = sessions
        self._metrics = metrics

    def write(self, batch: pb.Batch) -> pb.Ack:
        """Commits one batch. An invalid batch is refused with an Ack that names the problem; the
        stream goes on. A database failure propagates: the agent keeps the batch and resends it."""
        started = time.perf_counter()
        try:
            containers = containers_from_batch(batch)
            with self._sessions.begin() as session:
                accepted = ingest(session, containers, time.time_ns())
        except InvalidBatch as exc:
            self._metrics.ingest_errors.labels(reason="invalid").inc()
            log.warning("batch %d of %s refused: %s", batch.seq, batch.agent_id, exc)
            return pb.Ack(seq=batch.seq, error=str(exc))
        self._metrics.ingest_batches.inc()
        self._metrics.ingest_rows.inc(accepted)
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)
        return pb.Ack(seq=batch.seq, files_accepted=accepted)

    def Stream(  # noqa: N802 - gRPC's naming
        self, request_iterator: Iterator[pb.Batch], context: grpc.ServicerContext
    ) -> Iterator[pb.Ack]:
        for batch in request_iterator:
            try:
                yield self.write(batch)
            except SQLAlchemyError as exc:
                self._metrics.ingest_errors.labels(reason="database").inc()
                log.error("database error on batch %d of %s: %s", batch.seq, batch.agent_id, exc)
                context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable; resend")
