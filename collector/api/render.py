"""Turning query rows into what users read: JSON (paths via surrogateescape), a keep-list, or CSV."""

from __future__ import annotations

import csv
import io
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi.responses import Response

from snoop.collector.encoding import SafeJSONResponse, iso
from snoop.common.file_types import NAMES as TYPE_NAMES
from snoop.common.kinds import names_of


class Format(StrEnum):
    json = "json"
    text = "text"
    csv = "csv"


def file_json(row: tuple) -> dict[str, Any]:
    """One (path, containers, kinds, first_seen_ns, last_seen_ns, file_type[, size, package]) row of a file
    list; size and package are null where the image's inventory does not know the file."""
    out = {
        "path": os.fsdecode(row[0]),
        "type": TYPE_NAMES[row[5]],
        "containers": row[1],
        "kinds": names_of(row[2]),
        "first_seen": iso(row[3]),
        "last_seen": iso(row[4]),
    }
    if len(row) > 6:
        out["size"], out["package"] = row[6], row[7]
    return out


@dataclass(frozen=True)
class EncodedRows:
    """A file list as a JSON array, and where each row's object lies in it (row ``i`` from ``starts[i]`` to
    the comma before ``starts[i + 1]``): what the next encoding of the list reuses."""

    body: bytes
    position: dict[tuple, int]
    starts: array

    def part(self, row: tuple) -> memoryview | None:
        i = self.position.get(row)
        return None if i is None else memoryview(self.body)[self.starts[i] : self.starts[i + 1] - 1]


def encoded_rows(rows: list[tuple], before: EncodedRows | None = None) -> EncodedRows:
    """The rows as a JSON array. Rows as they were in ``before`` (an earlier encoding of the same list) are
    not encoded again: after a change to an image, nearly all of its 100,000 rows are unchanged, and building
    a row's object costs more than reading it. Written into one buffer as they come: orjson gives each row
    4 KiB (400 MB for 100,000 rows held apart)."""
    encode = SafeJSONResponse.encode
    body, starts = bytearray(b"["), array("q")
    for row in rows:
        starts.append(len(body))
        body += (before.part(row) if before else None) or encode(file_json(row))
        body += b","
    starts.append(len(body))
    if rows:
        body[-1:] = b"]"  # in place of the last comma
    else:
        body += b"]"
    return EncodedRows(bytes(body), {row: i for i, row in enumerate(rows)}, starts)


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
