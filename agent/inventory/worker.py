"""Inventories each image digest once per cluster, from a thread that does little but wait.

The main loop ``offer``s every container it knows at each batch; the worker asks the collector which
of their digests it lacks (that also leases them to this agent), then has each wanted image walked and
sent by a process of its own at the lowest CPU priority (agent/inventory/upload.py), never by the
agent's interpreter, whose lock the ring reader needs at once when a container starts. A digest is
settled once the collector holds its inventory; if the collector is unreachable or every container of
the digest is gone, it is tried again at a later offer.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

import grpc

from snoop.agent.events import ContainerRef
from snoop.agent.inventory.layers import can_read_trusted_xattrs
from snoop.agent.inventory.upload import Job, Result
from snoop.common.channels import PLAINTEXT, TlsFiles, open_channel, token_metadata
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
RETRY_S = 30.0
UPLOAD_TIMEOUT_S = 1800.0


class InventoryWorker:
    def __init__(self, target: str, *, agent_id: str, pids: Callable[[int], list[int]], proc_root: str,
                 host_roots: tuple[str, ...], tls: TlsFiles = PLAINTEXT, token: str | None = None,
                 chunk_files: int = 5000, containerd: str = "") -> None:
        self._target = target
        self._agent_id = agent_id
        self._pids = pids  # cgroup id -> its processes
        self._proc_root = proc_root
        self._host_roots = host_roots
        self._tls = tls
        self._token = token
        self._metadata = token_metadata(token)
        self._chunk_files = chunk_files
        self._containerd = containerd
        self._exact_layers = can_read_trusted_xattrs()
        if not self._exact_layers:
            log.info("no CAP_SYS_ADMIN: images of several layers are inventoried from their layer blobs in "
                     "containerd's content store (overlayfs marks opaque directories in trusted.* attributes)")
        self._offered: dict[str, dict[str, ContainerRef]] = {}  # digest -> container id -> container
        self._busy: set[str] = set()  # being asked about or walked now
        self._settled: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snoop-inventory", daemon=True)
        self.uploads: dict[str, int] = {"layers": 0, "rootfs": 0}
        self.files = 0
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def offer(self, refs: list[ContainerRef]) -> None:
        """Containers running now; cheap for digests already settled."""
        now = time.monotonic()
        with self._cond:
            for ref in refs:
                digest = ref.image_digest
                if digest and digest not in self._settled and digest not in self._busy \
                        and self._retry_at.get(digest, 0) <= now:
                    self._offered.setdefault(digest, {})[ref.container_id] = ref
            if self._offered:
                self._cond.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._offered and not self._stop.is_set():
                    self._cond.wait(1.0)
                offered = {digest: list(refs.values()) for digest, refs in self._offered.items()}
                self._offered = {}
                self._busy = set(offered)
            if offered:
                self._serve(offered)
            with self._cond:
                self._busy = set()

    def _serve(self, offered: dict[str, list[ContainerRef]]) -> None:
        channel = open_channel(self._target, self._tls)
        try:
            stub = pb_grpc.InventoryStub(channel)
            wanted = stub.Wanted(pb.WantedRequest(agent_id=self._agent_id, image_digests=sorted(offered)),
                                 metadata=self._metadata, timeout=30).image_digests
            self._settled.update(set(offered) - set(wanted))
            for digest in wanted:
                if self._stop.is_set():
                    return
                if self._inventory(digest, offered[digest]):
                    self._settled.add(digest)
                else:
                    self._retry_at[digest] = time.monotonic() + RETRY_S
        except grpc.RpcError as exc:
            self.errors += 1
            log.warning("inventory: collector %s unavailable (%s); trying again later", self._target, exc.code())
            for digest in offered:
                self._retry_at[digest] = time.monotonic() + RETRY_S
        finally:
            channel.close()

    def _inventory(self, digest: str, refs: list[ContainerRef]) -> bool:
        """Walks the image through a live process of ``refs`` and sends it, in a process of its own
        (agent/inventory/upload.py). True once the collector holds it."""
        pids = [pid for ref in refs for pid in self._pids(ref.cgroup_id)]
        if not pids:
            return False
        tls = (self._tls.ca, self._tls.cert, self._tls.key)
        job = Job(target=self._target, tls=tuple(str(p) if p else None for p in tls),  # type: ignore[arg-type]
                  agent_id=self._agent_id, image_digest=digest, image_reference=refs[0].image_reference,
                  pids=pids, proc_root=self._proc_root, host_roots=list(self._host_roots),
                  exact_layers=self._exact_layers, chunk_files=self._chunk_files, containerd=self._containerd)
        env = {**os.environ, **({"SNOOP_TOKEN": self._token} if self._token else {})}
        try:
            done = subprocess.run([sys.executable, "-m", "snoop.agent.inventory.upload"], input=json.dumps(asdict(job)),
                                  capture_output=True, text=True, env=env, timeout=UPLOAD_TIMEOUT_S, check=True)
            result = Result(**json.loads(done.stdout))
        except (subprocess.SubprocessError, ValueError, TypeError) as exc:
            self.errors += 1
            stderr = getattr(exc, "stderr", "") or ""
            log.warning("inventory of %s failed: %s %s", digest, exc, stderr[-2000:])
            return False
        if result.error and not result.complete:
            self.errors += 1
            log.warning("inventory of %s: %s", digest, result.error)
            return False
        if result.note:
            log.warning("inventory of %s: %s", digest, result.note)
        if result.source:
            self.uploads[result.source] += 1
            self.files += result.files
        log.info("inventory of %s (%s, from %s): %d files in %.1fs", refs[0].image_reference or digest, digest,
                 result.source or "another agent", result.files, result.seconds)
        return True
