"""How the collector writes what it answers, on every side of it (REST, the web view, sign-in, verdicts): JSON
that keeps non-UTF-8 paths, and times in ISO 8601. Below the REST layer, so nothing there needs ``api/``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    """JSON with ``\\udcXX`` escapes for bytes of paths that are not UTF-8: lossless, always valid.
    orjson (fast) unless a path holds such bytes, which only the standard encoder can escape."""

    @staticmethod
    def encode(content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate from surrogateescape
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    def render(self, content: Any) -> bytes:
        return self.encode(content)


_SECONDS: dict[int, str] = {}  # report rows share seconds; cleared when it grows (a day's worth)
_MILLIS = [f".{ms:03d}Z" for ms in range(1000)]


def iso(ns: int) -> str | None:
    """ISO 8601 in UTC with milliseconds. Two per row of a 100,000-row report: the seconds part is
    cached and the rest looked up, a third of the cost of formatting."""
    if not ns:
        return None
    seconds, rest = divmod(ns, 1_000_000_000)
    text = _SECONDS.get(seconds)
    if text is None:
        if len(_SECONDS) >= 86_400:
            _SECONDS.clear()
        text = _SECONDS[seconds] = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + _MILLIS[rest // 1_000_000]


def decoded_paths(paths: list[bytes]) -> list[str]:
    """``os.fsdecode`` of each path (bytes that are not UTF-8 kept as surrogates), decoded as one string and
    split: a diff's 100,000 paths one by one took a fifth of its time. Paths hold no NUL (ingest refuses it)."""
    if not paths:
        return []
    out = os.fsdecode(b"\0".join(paths)).split("\0")
    return out if len(out) == len(paths) else [os.fsdecode(p) for p in paths]
