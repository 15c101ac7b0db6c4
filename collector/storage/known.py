"""Ids of committed rows, remembered across batches: the paths of an image recur in every one of its
pods, so after the first few instances a batch needs no path lookups at all.

Learned only after a commit (``learn``), so a rolled-back batch can never leave a dangling id behind.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Learned:
    paths: dict[bytes, int] = field(default_factory=dict)                 # path -> id
    images: dict[tuple[str, str], int] = field(default_factory=dict)      # (digest, reference) -> id


class KnownIds:
    def __init__(self, *, max_paths: int = 1_000_000, image_refresh_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_paths = max_paths
        self._image_refresh = image_refresh_s  # how often an image's last_seen is still bumped
        self._clock = clock
        self._paths: OrderedDict[bytes, int] = OrderedDict()
        self._images: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def paths(self, paths: list[bytes]) -> list[int | None]:
        """Each path's id, None where unknown. Keyed by the path itself: hashing it costs a tenth of its
        sha256, and a million paths take about 30 MB more than their digests would."""
        with self._lock:
            get = self._paths.get
            return [get(p) for p in paths]

    def image(self, digest: str, reference: str) -> int | None:
        """The image's id, unless unknown or due for a last_seen update."""
        with self._lock:
            known = self._images.get((digest, reference))
        if known is None or self._clock() - known[1] > self._image_refresh:
            return None
        return known[0]

    def learn(self, learned: Learned) -> None:
        now = self._clock()
        with self._lock:
            for key, image_id in learned.images.items():
                self._images[key] = (image_id, now)
            self._paths.update(learned.paths)
            while len(self._paths) > self._max_paths:
                self._paths.popitem(last=False)
