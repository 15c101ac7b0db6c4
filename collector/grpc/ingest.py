"""The Ingest gRPC service: thin; screening and writes live in collector.storage.write.

Streams are coroutines; each batch's write runs on the database pool, so a stream costs nothing while
its agent is quiet, and a quiet stream is ended after ``idle_timeout_s`` (the agent opens a new one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor

import grpc
from google.protobuf.message import DecodeError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.grpc.groups import CommitGroups
from snoop.collector.grpc.inventory import single_writer_lock
from snoop.collector.grpc.messages import containers_from_batch
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.storage.known import KnownIds
from snoop.collector.storage.write import ContainerIn, Refusal, ingest, screen
from snoop.common.limits import MESSAGE_FILES
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


RETRIES = 3
CONFLICTS = {"40P01", "40001"}  # deadlock_detected, serialization_failure: retrying is the cure


def is_conflict(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in CONFLICTS


def refusal_to_pb(r: Refusal) -> pb.Refusal:
    return pb.Refusal(container_id=r.container_id, path=r.path, reason=r.reason, files=r.files, detail=r.detail)


class IngestServicer(pb_grpc.IngestServicer):
    def __init__(self, sessions: sessionmaker[Session], metrics: CollectorMetrics, writers: Executor, *,
                 write_lock: threading.Lock | contextlib.nullcontext | None = None,
                 idle_timeout_s: float = 300.0, max_files: int = MESSAGE_FILES) -> None:
        self._sessions = sessions
        self._max_files = max_files
        self._metrics = metrics
        self._writers = writers
        self._idle_timeout = idle_timeout_s
        self._write_lock = write_lock if write_lock is not None else single_writer_lock(sessions)
        # A single writer commits the batches waiting for it together; concurrent writers commit alone.
        self._groups = None if isinstance(self._write_lock, contextlib.nullcontext) else CommitGroups(
            self._write_lock, self._transaction, self._alone)
        self._known = KnownIds()

    @property
    def waiting_batches(self) -> int:
        """Batches waiting for the single writer now (0 where writers are concurrent)."""
        return self._groups.waiting if self._groups is not None else 0

    def _transaction(self, batches: list[list[ContainerIn]]) -> list[int]:
        """Writes ``batches`` in one transaction; how many files each added."""
        for attempt in range(RETRIES):
            try:
                with self._sessions.begin() as session:
                    now_ns = time.time_ns()
                    results = [ingest(session, containers, now_ns, self._known) for containers in batches]
                for result in results:
                    self._known.learn(result.learned)  # committed: safe to remember
                return [result.accepted for result in results]
            except DBAPIError as exc:
                if not is_conflict(exc) or attempt == RETRIES - 1:
                    raise
                self._metrics.ingest_errors.labels(reason="conflict-retried").inc()
        raise AssertionError("unreachable")

    def _alone(self, containers: list[ContainerIn]) -> int:
        """Commits ``containers`` in a transaction of their own (the caller holds the write lock if any)."""
        return self._transaction([containers])[0]

    def _commit(self, containers: list[ContainerIn]) -> int:
        if self._groups is not None:
            return self._groups.commit(containers)
        return self._alone(containers)

    def _commit_each(self, containers: list[ContainerIn], refused: list[Refusal]) -> int:
        """The database refused the batch's data: store container by container, refusing only those
        it will not take."""
        accepted = 0
        for c in containers:
            try:
                with self._write_lock:
                    accepted += self._alone([c])
            except (DataError, IntegrityError) as exc:
                log.error("container %s refused by the database: %s", c.container_id, exc.orig)
                refused.append(Refusal(c.container_id, b"", "refused-by-database", len(c.files), str(exc.orig)))
        return accepted

    def write(self, batch: pb.Batch) -> pb.Ack:
        """Commits what can be stored of one batch and names what was refused. A database failure
        propagates: the agent keeps the batch and resends it."""
        started = time.perf_counter()
        files = sum(len(c.files) for c in batch.containers)
        if files > self._max_files:  # refused before a Python object is made per file
            refused = [Refusal(c.container.container_id, b"", "batch-too-large", len(c.files),
                               f"the batch holds {files:,} files; this collector takes at most {self._max_files:,} "
                               "(--max-message-files; agents cut at --max-batch-files)") for c in batch.containers]
            for r in refused:
                self._metrics.files_refused.labels(reason=r.reason).inc(r.files)
            log.warning("batch %d of %s refused: %s", batch.seq, batch.agent_id[:80], refused[0].detail)
            return pb.Ack(seq=batch.seq, files_accepted=0, refused=[refusal_to_pb(r) for r in refused])
        containers, refused = screen(containers_from_batch(batch))
        try:
            accepted = self._commit(containers)
        except (DataError, IntegrityError):  # the data, not the database: resending cannot help
            accepted = self._commit_each(containers, refused)
        for r in refused:
            self._metrics.files_refused.labels(reason=r.reason).inc(r.files)
        if refused:
            log.warning("batch %d of %s: %d refusals, first: %s %r: %s", batch.seq, batch.agent_id, len(refused),
                        refused[0].container_id, refused[0].path[:100], refused[0].detail)
        self._metrics.ingest_batches.inc()
        self._metrics.ingest_rows.inc(accepted)
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)
        return pb.Ack(seq=batch.seq, files_accepted=accepted, refused=[refusal_to_pb(r) for r in refused])

    async def Stream(  # noqa: N802 - gRPC's naming
        self, request_iterator: AsyncIterator[pb.Batch], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.Ack]:
        loop = asyncio.get_running_loop()
        batches = aiter(request_iterator)
        while True:
            try:
                batch = await asyncio.wait_for(anext(batches), self._idle_timeout)
            except StopAsyncIteration:
                return
            except TimeoutError:
                self._metrics.streams_idle_closed.inc()
                return  # the agent opens a new stream when it has something to send
            except DecodeError as exc:
                self._metrics.ingest_errors.labels(reason="undecodable").inc()
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"undecodable snoop.v1.Batch: {exc}")
            try:
                yield await loop.run_in_executor(self._writers, self.write, batch)
            except SQLAlchemyError as exc:
                self._metrics.ingest_errors.labels(reason="database").inc()
                log.error("database error on batch %d of %s: %s", batch.seq, batch.agent_id, exc)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable; resend")
