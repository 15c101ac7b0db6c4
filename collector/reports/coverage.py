"""How much observation a verdict of "unused" rests on: which containers ran the image, for how long,
where, and whether they still find new files. The user judges whether it is enough; these are the
figures to judge by.

``observed_seconds`` is the wall-clock span during which at least one container of the image was
watched running (the union of each instance's first-seen to last-seen, heartbeats included);
``container_seconds`` adds the instances up. The discovery curve counts the image's used files by
when a container first used them; ``stable_since`` is the last time a new one appeared.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from snoop.collector.storage.models import ContainerInstance, Image, ImageFile
from snoop.common.file_types import KEEP

CURVE_POINTS = 24
NS = 1_000_000_000


def _instances(session: Session, image: Image) -> list[tuple[int, int, str]]:
    """(first seen, last seen, node) of each container instance of the image."""
    c = ContainerInstance
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(c.first_seen_ns, c.last_seen_ns, c.node).where(c.image_id == image.id))]


def union_ns(spans: list[tuple[int, int]]) -> int:
    """Nanoseconds covered by at least one of ``spans``."""
    total, end = 0, None
    for start, stop in sorted(spans):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def coverage(session: Session, image: Image, last_new_file_ns: int) -> dict[str, Any]:
    instances = _instances(session, image)
    return {"instances": len(instances), "nodes": len({node for *_, node in instances}),
            "observed_seconds": union_ns([(a, b) for a, b, _ in instances]) // NS,
            "container_seconds": sum(b - a for a, b, _ in instances) // NS,
            "last_new_file_ns": last_new_file_ns}


def discovery(session: Session, image: Image, points: int = CURVE_POINTS) -> dict[str, Any]:
    """The used files (files, symlinks, untyped) by when they were first used, in at most ``points``
    steps of the cumulative count, and what ran since the last new one."""
    used = (ImageFile.image_id == image.id, ImageFile.file_type.in_(KEEP))
    first, last = session.execute(select(func.min(ImageFile.first_seen_ns), func.max(ImageFile.first_seen_ns))
                                  .where(*used)).one()
    if first is None:
        return {"curve": [], "stable_since_ns": None, "container_hours_since": 0.0, "nodes_since": 0}
    width = (last - first) // points + 1
    bucket = (ImageFile.first_seen_ns - first) // width
    counts = session.execute(select(bucket, func.count()).where(*used).group_by(bucket).order_by(bucket)).all()
    curve, total = [], 0
    for step, n in counts:
        total += n
        curve.append({"at_ns": min(first + (int(step) + 1) * width - 1, last), "files": total})
    since = [(max(a, last), b, node) for a, b, node in _instances(session, image) if b > last]
    return {"curve": curve, "stable_since_ns": last,
            "container_hours_since": round(sum(b - a for a, b, _ in since) / NS / 3600, 4),
            "nodes_since": len({node for *_, node in since})}
