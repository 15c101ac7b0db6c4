"""Turning query rows into what users read: JSON (paths via surrogateescape), a keep-list, or CSV."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from common.file_types import NAMES as TYPE_NAMES
from common.kinds import names_of


class Format(StrEnum):
    json = "json"
    text = "text"
    csv = "csv"


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


@functools.lru_cache(maxsize=65536)
def _iso_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso(ns: int) -> str | None:
    """ISO 8601 in UTC with milliseconds; the seconds part is cached (report rows share seconds)."""
    if not ns:
        return None
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{_iso_second(seconds)}.{rest // 1_000_000:03d}Z"


def file_json(row: tuple) -> dict[str, Any]:
    """One (path, containers, kinds, first_seen_ns, last_seen_ns, file_type[, size, package]) row of a file
    list; size and package are null where the image's inventory does not know the file."""
    path, containers, kinds, first_ns, last_ns, file_type, *details = row
    out = {
        "path": os.fsdecode(path),
        "type": TYPE_NAMES[file_type],
        "containers": containers,
        "kinds": names_of(kinds),
        "first_seen": iso(first_ns),
        "last_seen": iso(last_ns),
    }
    if details:
        out["size"], out["package"] = details
    return out


def image_json(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if not k.endswith("_ns") and k != "id"}
    out["first_seen"] = iso(summary["first_seen_ns"])
    out["last_seen"] = iso(summary["last_seen_ns"])
    return out


def keep_list(paths: Iterable[bytes]) -> Response:
    """One path per line, bytes as they are: what a Dockerfile or a slimming tool consumes."""
    return Response(b"".join(p + b"\n" for p in paths), media_type="text/plain")


def csv_response(header: list[str], rows: Iterable[list[Any]]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buf.getvalue().encode("utf-8", "surrogateescape"), media_type="text/csv")


FILE_COLUMNS = ["path", "containers", "kinds", "first_seen", "last_seen", "type", "size", "package"]


def file_list_response(rows: list[tuple], format: Format, *, details: bool = False) -> Response:  # noqa: A002
    """A file list as a keep-list or CSV (JSON is built by the route, with its context); ``details``:
    rows carry size and package."""
    if format is Format.text:
        return keep_list(r[0] for r in rows)
    return csv_response(
        FILE_COLUMNS if details else FILE_COLUMNS[:6],
        ([os.fsdecode(path), n, "|".join(names_of(kinds)), iso(first), iso(last), TYPE_NAMES[t], *details]
         for path, n, kinds, first, last, t, *details in rows),
    )
