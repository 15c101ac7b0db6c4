"""The discovery curve as an SVG polyline: a step for each bucket of new files, drawn in a fixed box."""

from __future__ import annotations

from typing import Any

CHART = (240, 48)  # width, height in SVG units


def curve_points(found: dict[str, Any], size: tuple[int, int] = CHART) -> str:
    """``x,y`` pairs of the cumulative curve (time across, files up); "" when there is nothing to draw."""
    curve = found["curve"]
    if not curve:
        return ""
    start, end = found["curve"][0]["at_ns"], curve[-1]["at_ns"]
    top = curve[-1]["files"]
    width, height = size
    span = max(end - start, 1)
    points = [(0.0, float(height))]
    for p in curve:
        x = (p["at_ns"] - start) / span * width if len(curve) > 1 else float(width)
        points.append((x, points[-1][1]))  # a step: flat until the bucket closes, then up
        points.append((x, height - p["files"] / top * height))
    points.append((float(width), points[-1][1]))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
