"""Sizes as people read them, the same in the CLI's tables and on the web pages."""

from __future__ import annotations


def human_bytes(n: int | None, missing: str = "-") -> str:
    """1.2 MB, 512 B: decimal units; ``missing`` when the size is not known."""
    if n is None:
        return missing
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def count(n: int, noun: str) -> str:
    """``1 file``, ``7,425 files``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
