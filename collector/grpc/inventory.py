"""The Inventory gRPC service: which image digests still need an inventory, and taking its chunks,
each only from the agent that holds the digest's lease (``leases.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import Executor

import grpc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.grpc.leases import Leases
from snoop.collector.grpc.messages import chunk_from_pb
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.write_inventory import Outcome, chunk_problem, put_chunk, wanted
from snoop.common.limits import MESSAGE_FILES
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class InventoryServicer(pb_grpc.InventoryServicer):
    def __init__(self, sessions: sessionmaker[Session], metrics: CollectorMetrics, writers: Executor,
                 write_lock: threading.Lock | contextlib.nullcontext, *, max_files: int = MESSAGE_FILES) -> None:
        self._max_files = max_files
        self._sessions = sessions
        self._metrics = metrics
        self._writers = writers
        self._write_lock = write_lock
        self.leases = Leases()

    def _wanted(self, request: pb.WantedRequest) -> pb.WantedReply:
        with self._sessions() as session:
            missing = wanted(session, list(request.image_digests)[:1000])
        return pb.WantedReply(image_digests=self.leases.grant(request.agent_id, missing))

    def _put(self, request: pb.InventoryChunk) -> pb.InventoryAck:
        files = len(request.files) + sum(len(p.files) for p in request.packages)
        if files > self._max_files:  # refused before a Python object is made per file
            self._metrics.inventory_errors.labels(reason="too-many-files").inc()
            return pb.InventoryAck(error=f"too-many-files: the chunk holds {files:,} files and package files; this "
                                         f"collector takes at most {self._max_files:,} (--max-message-files)")
        chunk = chunk_from_pb(request)
        problem = chunk_problem(chunk) or self.leases.refusal(chunk.agent_id, chunk.image_digest)
        if problem is not None:
            self._metrics.inventory_errors.labels(reason=problem.split(":")[0]).inc()
            log.warning("inventory chunk %d of %s from %s refused: %s", chunk.index, chunk.image_digest[:80],
                        chunk.agent_id[:80], problem)
            return pb.InventoryAck(error=problem)
        with self._write_lock, self._sessions.begin() as session:
            outcome: Outcome = put_chunk(session, chunk, time.time_ns())
        self._metrics.inventory_chunks.inc()
        if outcome.error:
            self._metrics.inventory_errors.labels(reason=outcome.error.split(":")[0]).inc()
            log.warning("inventory chunk %d of %s from %s: %s", chunk.index, chunk.image_digest, chunk.agent_id,
                        outcome.error)
        elif outcome.complete and chunk.done is not None:
            self.leases.release(chunk.image_digest)
            self._metrics.inventories_completed.labels(source=chunk.done.source).inc()
            log.info("inventory of %s complete (%d files, from %s)", chunk.image_digest, chunk.done.files,
                     chunk.done.source)
        return pb.InventoryAck(complete=outcome.complete, error=outcome.error)

    async def Wanted(self, request: pb.WantedRequest, context: grpc.aio.ServicerContext) -> pb.WantedReply:  # noqa: N802
        return await self._run(self._wanted, request, context)

    async def Put(self, request: pb.InventoryChunk, context: grpc.aio.ServicerContext) -> pb.InventoryAck:  # noqa: N802
        return await self._run(self._put, request, context)

    async def _run(self, call, request, context):  # noqa: ANN001, ANN202
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writers, call, request)
        except SQLAlchemyError as exc:
            log.error("database error on inventory: %s", exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable; try again")


def single_writer_lock(sessions: sessionmaker[Session]) -> threading.Lock | contextlib.nullcontext:
    """SQLite has one writer: queue writers in the collector rather than in SQLite's busy handler."""
    return threading.Lock() if dialect_of(sessions.kw["bind"]).single_writer else contextlib.nullcontext()
