"""Request-scoped dependencies: one session per request, from the app's sessionmaker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from collector.api.render import Format, kind_bits
from collector.reports.images import FileFilter
from common.file_types import KEEP, type_codes


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

Limit = Annotated[int | None, Query(ge=1, le=1_000_000, description="page size; everything when omitted")]
Offset = Annotated[int, Query(ge=0)]


def file_filter(prefix: str | None, kind: list[str] | None, since: str | None,
                type_: list[str] | None = None, format: Format = Format.json) -> FileFilter:  # noqa: A002
    """Query parameters -> FileFilter; bad values are a 422 that names them. A keep-list (``text``)
    lists files and links only, unless ``type`` asks otherwise."""
    try:
        bits = kind_bits(kind or [])
        since_ns = int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1e9) if since else 0
        types = type_codes(type_) if type_ else KEEP if format is Format.text else ()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return FileFilter(prefix=os.fsencode(prefix) if prefix else None, kinds=bits, since_ns=since_ns, types=types)
