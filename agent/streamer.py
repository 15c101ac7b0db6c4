"""Delivers batches to the collector over one bidirectional gRPC stream, at least once.

Every batch stays in the spool until the collector acknowledges it; on reconnect the whole spool is
sent again (the collector's upserts make that harmless). With a ``DiskSpool`` each batch is also on disk
until then, and an agent sends what its predecessors left (``recover``). The spool is bounded
in files: when the bound bites, the oldest batches go and ``dropped_files`` says how much was lost.
What the collector refuses (a path past PATH_MAX, a container it cannot store) is counted per reason
in ``refused_files``.

Each stream opens with an empty batch (seq 0): ``connected`` means the collector has answered on this
stream, not merely that a TCP connection exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator

import grpc

from snoop.agent.spool import DiskSpool
from snoop.common.channels import PLAINTEXT, TlsFiles, open_channel, token_metadata
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


def _files_in(batch: pb.Batch) -> int:
    return sum(len(c.files) for c in batch.containers)


class Streamer:
    def __init__(
        self,
        target: str,
        *,
        agent_id: str,
        max_spool_files: int,
        backoff_max_s: float = 30.0,
        tls: TlsFiles = PLAINTEXT,
        token: str | None = None,
    ) -> None:
        self._target = target
        self._agent_id = agent_id
        self._max_spool_files = max_spool_files
        self._backoff_max = backoff_max_s
        self._tls = tls
        self._metadata = token_metadata(token)
        self._disk: DiskSpool | None = None
        self._cond = threading.Condition()
        self._spool: OrderedDict[int, pb.Batch] = OrderedDict()
        self._spool_files = 0
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snoop-streamer", daemon=True)
        self.connected = False
        self.sent = 0
        self.acked = 0
        self.refused_files: Counter[str] = Counter()  # reason -> files
        self.dropped_files = 0
        self.recovered_files = 0

    @property
    def spool_files(self) -> int:
        return self._spool_files

    def start(self) -> None:
        self._thread.start()

    def submit(self, containers: list[pb.ContainerFiles], dropped_events: int) -> None:
        with self._cond:
            self._seq += 1
            batch = pb.Batch(
                agent_id=self._agent_id, seq=self._seq, containers=containers, dropped_events=dropped_events
            )
            if self._disk is not None:
                self._disk.save(self._seq, batch)
            self._spool[self._seq] = batch
            self._spool_files += _files_in(batch)
            while self._spool_files > self._max_spool_files and len(self._spool) > 1:
                seq, oldest = self._spool.popitem(last=False)
                lost = _files_in(oldest)
                self._spool_files -= lost
                self.dropped_files += lost
                if self._disk is not None:
                    self._disk.delete(seq)
            self._cond.notify_all()

    def recover(self, disk: DiskSpool) -> int:
        """Keeps every batch on ``disk`` from now on, and takes over the batches agents that are gone left there
        unacknowledged; they go out first. Called at start and again from time to time: an agent that ran
        beside this one (a rolling update) lets go of its directory only when it stops. Returns files taken."""
        self._disk = disk
        taken = 0
        for batch in disk.adopt():
            self.submit(list(batch.containers), batch.dropped_events)
            taken += _files_in(batch)
        self.recovered_files += taken
        return taken

    def drain(self, timeout_s: float) -> bool:
        """Waits until every batch is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._spool:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _requests(self, done: threading.Event) -> Iterator[pb.Batch]:
        yield pb.Batch(agent_id=self._agent_id, seq=0)  # the handshake: its ack sets ``connected``
        sent_up_to = 0  # a new stream starts from the oldest unacknowledged batch
        while not done.is_set() and not self._stop.is_set():
            with self._cond:
                todo = [b for seq, b in self._spool.items() if seq > sent_up_to]
                if not todo:
                    self._cond.wait(0.5)
                    continue
            for batch in todo:
                yield batch
                sent_up_to = batch.seq
                self.sent += 1

    def _ack(self, ack: pb.Ack) -> None:
        self.connected = True
        if ack.seq == 0:
            return
        with self._cond:
            batch = self._spool.pop(ack.seq, None)
            if batch is not None:
                self._spool_files -= _files_in(batch)
                if self._disk is not None:
                    self._disk.delete(ack.seq)
            self.acked += 1
            for r in ack.refused:
                self.refused_files[r.reason] += r.files
            if ack.refused:
                first = ack.refused[0]
                log.error("collector refused %d files of batch %d, e.g. %s of container %s: %s",
                          sum(r.files for r in ack.refused), ack.seq, first.path[:100] or "all files",
                          first.container_id, first.detail)
            self._cond.notify_all()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            channel = open_channel(self._target, self._tls)
            done = threading.Event()
            try:
                stub = pb_grpc.IngestStub(channel)
                responses = stub.Stream(self._requests(done), metadata=self._metadata)
                for ack in responses:
                    backoff = 0.5
                    self._ack(ack)
            except grpc.RpcError as exc:
                if not self._stop.is_set():
                    log.warning("collector %s unavailable (%s); retrying in %.1fs",
                                self._target, exc.code(), backoff)
            finally:
                self.connected = False
                done.set()
                channel.close()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._backoff_max)
