"""Who may upload an image's inventory: the one agent holding its lease.

``Wanted`` leases each digest it returns to the asking agent for ``LEASE_S`` (renewed by every chunk
taken), so that the agents of a cluster that all see a new image at once do not all walk it, and so
that no other agent can replace an upload in progress. Leases are bounded: only well-formed digests,
at most ``PER_AGENT`` held by one agent and ``TOTAL`` in all; expired ones are dropped as new ones are
asked for. A collector that restarts forgets its leases: an agent whose chunk finds no live lease takes
it, so uploads in flight go on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DIGEST = re.compile(r"^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$")
LEASE_S = 600.0
PER_AGENT = 256
TOTAL = 20_000


@dataclass(frozen=True)
class Lease:
    agent: str
    until: float


class Leases:
    def __init__(self, clock: Callable[[], float] = time.monotonic, lease_s: float = LEASE_S,
                 per_agent: int = PER_AGENT, total: int = TOTAL) -> None:
        self._clock = clock
        self._lease_s = lease_s
        self._per_agent = per_agent
        self._total = total
        self._held: dict[str, Lease] = {}  # digest -> lease
        self._lock = threading.Lock()  # the servicer's calls run on a pool of threads

    def __len__(self) -> int:
        return len(self._held)

    def grant(self, agent: str, digests: list[str]) -> list[str]:
        """Those of ``digests`` now leased to ``agent``: well-formed, not held by another, within the caps."""
        with self._lock:
            return self._grant(agent, digests)

    def _grant(self, agent: str, digests: list[str]) -> list[str]:
        now = self._clock()
        self._held = {d: lease for d, lease in self._held.items() if lease.until >= now}
        mine = sum(1 for lease in self._held.values() if lease.agent == agent)
        out = []
        for digest in dict.fromkeys(digests):
            lease = self._held.get(digest)
            if not DIGEST.match(digest) or (lease is not None and lease.agent != agent):
                continue
            if lease is None:
                if mine >= self._per_agent or len(self._held) >= self._total:
                    continue
                mine += 1
            self._held[digest] = Lease(agent, now + self._lease_s)
            out.append(digest)
        return out

    def refusal(self, agent: str, digest: str) -> str | None:
        """Why ``agent`` may not put a chunk of ``digest`` now; None when it may (its lease is renewed)."""
        with self._lock:
            return self._refusal(agent, digest)

    def _refusal(self, agent: str, digest: str) -> str | None:
        if not DIGEST.match(digest):
            return f"invalid-digest: {digest[:80]!r} is not an image digest (sha256:<64 hex>)"
        lease = self._held.get(digest)
        now = self._clock()
        if lease is not None and lease.until >= now and lease.agent != agent:
            return f"not-lease-holder: {digest} is leased to another agent"
        if lease is None and len(self._held) >= self._total:
            return "too-many-leases: the collector holds its maximum of inventory leases; try again later"
        self._held[digest] = Lease(agent, now + self._lease_s)
        return None

    def release(self, digest: str) -> None:
        with self._lock:
            self._held.pop(digest, None)
