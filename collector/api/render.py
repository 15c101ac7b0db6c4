"""Turning query rows into what users read: JSON (paths via surrogateescape), a keep-list, or CSV."""

from __future__ import annotations

import csv
import io
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import compress, count
from operator import ne
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
    """A file list's rows and their JSON objects, each followed by a comma (row ``i`` from ``starts[i]`` to
    ``starts[i + 1]`` of ``items``): what the next encoding of the list reuses."""

    rows: list[tuple]
    items: bytes
    starts: array

    def json(self) -> memoryview:
        """The JSON array's contents: the objects without the last comma (between ``[`` and ``]``)."""
        return memoryview(self.items)[:-1]


def _unchanged(rows: list[tuple], i: int, old: list[tuple], j: int) -> int:
    """How many rows from ``rows[i]`` on equal those from ``old[j]`` on: compared by C loops over windows that
    double while they match, not row by row in Python."""
    same, width = 0, 64
    while True:
        mine, theirs = rows[i + same : i + same + width], old[j + same : j + same + width]
        first_difference = next(compress(count(), map(ne, mine, theirs)), None)
        if first_difference is not None:
            return same + first_difference
        same += min(len(mine), len(theirs))
        if min(len(mine), len(theirs)) < width:
            return same
        width *= 2


def encoded_rows(rows: list[tuple], before: EncodedRows | None = None) -> EncodedRows:
    """The rows as JSON objects. Runs of rows as they were in ``before`` (an earlier encoding of the same list,
    in path order) are copied whole: after a change to an image nearly all of its 100,000 rows are unchanged,
    and building a row's object costs more than reading it. Written into one buffer as they come: orjson gives
    each row 4 KiB (400 MB for 100,000 rows held apart)."""
    encode = SafeJSONResponse.encode
    old, old_items, old_starts = (before.rows, before.items, before.starts) if before else ([], b"", array("q", [0]))
    items, starts = bytearray(), array("q")
    i = j = 0
    while i < len(rows):
        same = _unchanged(rows, i, old, j) if j < len(old) else 0
        if same:
            shift = len(items) - old_starts[j]
            starts.extend(map(shift.__add__, old_starts[j : j + same]))
            items += memoryview(old_items)[old_starts[j] : old_starts[j + same]]
            i, j = i + same, j + same
            continue
        row = rows[i]
        if j < len(old) and old[j][0] < row[0]:  # gone from the list
            j += 1
            continue
        if j < len(old) and old[j][0] == row[0]:  # changed
            j += 1
        starts.append(len(items))
        items += encode(file_json(row))
        items += b","
        i += 1
    starts.append(len(items))
    return EncodedRows(rows, bytes(items), starts)


def image_json(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if not k.endswith("_ns") and k != "id"}
    out["first_seen"] = iso(summary["first_seen_ns"])
    out["last_seen"] = iso(summary["last_seen_ns"])
    return out


def keep_list(paths: Iterable[bytes]) -> Response:
    """One path per line, bytes as they are: what a Dockerfile or a slimming tool consumes."""
    lines = b"\n".join(paths)  # paths are never empty: an empty body is an empty list
    return Response(lines + b"\n" if lines else b"", media_type="text/plain")


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
