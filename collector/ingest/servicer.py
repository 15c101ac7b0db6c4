"""The Ingest gRPC service: thin; validation and writes live in collector.storage.ingest."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import grpc
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from collector.ingest.convert import containers_from_batch
from collector.metrics import CollectorMetrics
from collector.storage.ingest import InvalidBatch, ingest
from collector.storage.known import KnownIds
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


RETRIES = 3
CONFLICTS = {"40P01", "40001"}  # deadlock_detected, serialization_failure: retrying is the cure


def is_conflict(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in CONFLICTS


class IngestServicer(pb_grpc.IngestServicer):
    def __init__(self, sessions: sessionmaker[Session], metrics: CollectorMetrics) -> None:
        self._sessions = sessions
        self._metrics = metrics
        # SQLite has one writer: queue writers here rather than in SQLite's sleeping busy handler.
        bind = sessions.kw["bind"]
        self._write_lock = threading.Lock() if bind.dialect.name == "sqlite" else contextlib.nullcontext()
        self._known = KnownIds()

    def _commit(self, containers: list) -> int:
        for attempt in range(RETRIES):
            try:
                with self._write_lock:
                    with self._sessions.begin() as session:
                        result = ingest(session, containers, time.time_ns(), self._known)
                    self._known.learn(result.learned)  # committed: safe to remember
                    return result.accepted
            except DBAPIError as exc:
                if not is_conflict(exc) or attempt == RETRIES - 1:
                    raise
                self._metrics.ingest_errors.labels(reason="conflict-retried").inc()
        raise AssertionError("unreachable")

    def write(self, batch: pb.Batch) -> pb.Ack:
        """Commits one batch. An invalid batch is refused with an Ack that names the problem; the
        stream goes on. A database failure propagates: the agent keeps the batch and resends it."""
        started = time.perf_counter()
        try:
            accepted = self._commit(containers_from_batch(batch))
        except InvalidBatch as exc:
            self._metrics.ingest_errors.labels(reason="invalid").inc()
            log.warning("batch %d of %s refused: %s", batch.seq, batch.agent_id, exc)
            return pb.Ack(seq=batch.seq, error=str(exc))
        except (DataError, IntegrityError) as exc:  # the data, not the database: resending cannot help
            self._metrics.ingest_errors.labels(reason="refused-by-database").inc()
            log.error("batch %d of %s refused by the database: %s", batch.seq, batch.agent_id, exc.orig)
            return pb.Ack(seq=batch.seq, error=f"refused by the database: {exc.orig}")
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
