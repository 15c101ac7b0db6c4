"""Attribution: cgroup ID -> ContainerRef, learned once per cgroup, never per event.

A cgroup is, for the agent, one of three things: a known container; not a container (host, runtime,
pod sandbox: the kernel is told to stop tracing it); or not known *yet* (a container whose first files
are opened before the CRI lists it). Events of the last kind wait in the caller until ``lookup`` decides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from typing import Protocol

import grpc

from snoop.agent.events import ContainerRef
from snoop.agent.resolver.cgroup import CgroupPaths, container_id_from_path
from snoop.agent.resolver.containerd import KIND as OUTSIDE_KIND
from snoop.agent.resolver.cri import RuntimeClient
from snoop.agent.resolver.owners import OwnerSource

log = logging.getLogger(__name__)


class Verdict(Enum):
    PENDING = "pending"
    IGNORE = "ignore"


class OutsideCri(Protocol):
    """Names containers the CRI does not list (agent.resolver.containerd.ContainerdClient)."""

    def identify(self, cgroup_path: str) -> ContainerRef | None: ...


class ContainerRegistry:
    def __init__(
        self,
        *,
        runtime: RuntimeClient,
        cgroups: CgroupPaths,
        owners: OwnerSource | None = None,
        outside: OutsideCri | None = None,
        ask_outside_after_s: float = 1.0,
        decide_within_s: float = 30.0,
        refresh_every_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtime = runtime
        self._cgroups = cgroups
        self._owners = owners
        self._outside = outside
        self._ask_outside_after = ask_outside_after_s
        self._outside_asked: set[int] = set()
        self._outside_down_until = float("-inf")
        self._decide_within = decide_within_s
        self._refresh_every = refresh_every_s
        self._clock = clock
        self._by_container: dict[str, ContainerRef] = {}
        self._by_cgroup: dict[int, ContainerRef | Verdict] = {}
        self._first_seen: dict[int, float] = {}
        self._last_refresh = float("-inf")
        self.runtime_errors = 0

    def refresh(self, *, force: bool = False) -> None:
        """Re-lists the runtime's containers (rate-limited unless forced). Identities of containers
        that are gone stay cached: their last events may still be in the ring buffer."""
        now = self._clock()
        if not force and now - self._last_refresh < self._refresh_every:
            return
        self._last_refresh = now
        try:
            for ref in self._runtime.list_containers():
                self._by_container[ref.container_id] = ref
        except Exception as exc:  # a runtime restart must not stop tracing; count and retry later
            self.runtime_errors += 1
            log.warning("CRI ListContainers failed: %s", exc)

    def learn(self, cgroup_id: int, pid: int) -> None:
        """Notes a new cgroup's path from a live process of it (cheap; safe from the ring reader)."""
        if cgroup_id not in self._by_cgroup:
            self._cgroups.learn(cgroup_id, pid)

    def named(self, cgroup_id: int, path: str) -> None:
        """Notes a cgroup's path as the kernel told it when the cgroup was made (safe from the ring reader)."""
        self._cgroups.note(cgroup_id, path)

    def lookup(self, cgroup_id: int, pid: int) -> ContainerRef | Verdict:
        known = self._by_cgroup.get(cgroup_id)
        if known is not None:
            return known
        first = self._first_seen.setdefault(cgroup_id, self._clock())
        path = self._cgroups.path_of(cgroup_id, pid)
        container_id = container_id_from_path(path) if path is not None else None
        if path is not None and container_id is None:  # no CRI container: maybe ``ctr run``'s, else none
            outside = self._ask_outside(cgroup_id, path)
            return self._decide(cgroup_id, outside if outside is not None else Verdict.IGNORE)
        if container_id is not None:
            if container_id not in self._by_container:
                self.refresh()
            ref = self._by_container.get(container_id)
            if ref is not None:
                ref = replace(ref, cgroup_id=cgroup_id, cgroup_path=path or "")
                owner = self._owners.owner_of(ref.pod_uid) if self._owners else None
                if owner is not None:  # the API's word replaces the pod-name guess
                    ref = replace(ref, workload_kind=owner[0], workload_name=owner[1])
                return self._decide(cgroup_id, ref)
            if path is not None and self._clock() - first > self._ask_outside_after:  # nerdctl, Docker
                outside = self._ask_outside(cgroup_id, path)
                if outside is not None:
                    return self._decide(cgroup_id, outside)
        if self._clock() - first > self._decide_within:
            # A pod sandbox (pause), a container the CRI never listed, or a cgroup gone unseen.
            log.info("cgroup %d (%s) is no container of the CRI or containerd: not traced", cgroup_id, path)
            return self._decide(cgroup_id, Verdict.IGNORE)
        return Verdict.PENDING

    def _ask_outside(self, cgroup_id: int, path: str) -> ContainerRef | None:
        """containerd's own API, once per cgroup: containerd knows a container before its first process
        runs, so a no is final. Not at all for a while after containerd could not be reached (a CRI-O
        node has none)."""
        now = self._clock()
        if self._outside is None or now < self._outside_down_until or cgroup_id in self._outside_asked:
            return None
        try:
            ref = self._outside.identify(path)
        except grpc.RpcError as exc:
            self.runtime_errors += 1
            self._outside_down_until = now + 30.0
            log.warning("containerd's API failed (%s): containers outside the CRI are not traced for 30s", exc)
            return None
        self._outside_asked.add(cgroup_id)
        return replace(ref, cgroup_id=cgroup_id) if ref is not None else None

    def _decide(self, cgroup_id: int, result: ContainerRef | Verdict) -> ContainerRef | Verdict:
        self._by_cgroup[cgroup_id] = result
        self._first_seen.pop(cgroup_id, None)
        self._outside_asked.discard(cgroup_id)
        if isinstance(result, ContainerRef) and result.workload_kind == OUTSIDE_KIND:
            log.info("cgroup %d is %s container %s of image %s (not a CRI container)", cgroup_id,
                     result.pod_namespace, result.container_id, result.image_reference)
        return result

    def forget(self, ref: ContainerRef) -> None:
        """Drops a container that is gone; a late event of its cgroup is decided afresh."""
        self._by_cgroup.pop(ref.cgroup_id, None)
        self._by_container.pop(ref.container_id, None)

    def containers(self) -> list[ContainerRef]:
        return [r for r in self._by_cgroup.values() if isinstance(r, ContainerRef)]
