"""Request-scoped dependencies: one session per request, from the app's sessionmaker."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from snoop.collector.api.render import Format
from snoop.collector.reports.filters import FileFilter
from snoop.collector.reports.images import closest_references, find_image
from snoop.collector.storage.models import Image
from snoop.common.file_types import KEEP, type_codes
from snoop.common.kinds import bits_of
from snoop.common.seed_report import parse_time


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

Limit = Annotated[int | None, Query(ge=1, le=1_000_000, description="page size; everything when omitted")]
Offset = Annotated[int, Query(ge=0, le=2**53)]
After = Annotated[str | None, Query(max_length=8192, description="continue after this cursor: a page's `next`")]


def cursor(path: bytes) -> str:
    """A page's last path as the ``after`` of the next page: URL-safe, any bytes."""
    return base64.urlsafe_b64encode(path).rstrip(b"=").decode("ascii")


def after_path(after: str | None, offset: int) -> bytes | None:
    """``after`` -> the path to continue after; a 422 for a cursor this collector did not give."""
    if after is None:
        return None
    if offset:
        raise HTTPException(422, "after and offset: give one (after continues a page's `next`)")
    try:
        return base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(422, f"after: not a cursor of this API ({exc})") from exc


def since_ns(since: str | None) -> int:
    """An ISO 8601 time -> Unix ns; a 422 that says why for anything a database column cannot hold."""
    if not since:
        return 0
    try:
        return parse_time(since)
    except ValueError as exc:
        raise HTTPException(422, f"since: {exc}") from exc


def file_filter(prefix: str | None, kind: list[str] | None, since: str | None,
                type_: list[str] | None = None, format: Format = Format.json) -> FileFilter:  # noqa: A002
    """Query parameters -> FileFilter; bad values are a 422 that names them. A keep-list (``text``)
    lists files and links only, unless ``type`` asks otherwise."""
    try:
        bits = bits_of(kind or [])
        types = type_codes(type_) if type_ else KEEP if format is Format.text else ()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return FileFilter(prefix=os.fsencode(prefix) if prefix else None, kinds=bits, since_ns=since_ns(since),
                      types=types)


class ImageNotFound(HTTPException):
    """A 404 that carries the nearest names, for a page to link them."""

    def __init__(self, detail: str, suggestions: list[str]) -> None:
        super().__init__(404, detail)
        self.suggestions = suggestions


def image_or_404(session: Session, key: str, side: str = "") -> Image:
    """The image a digest, digest prefix or reference names; else a 404 that suggests the nearest ones."""
    image = find_image(session, key)
    if image is not None:
        return image
    near = closest_references(session, key)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise ImageNotFound(f"{side + ': ' if side else ''}no image with digest or reference {key!r}{hint}", near)
