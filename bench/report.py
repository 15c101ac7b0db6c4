"""Keeps docs/benchmarks.md current: each benchmark owns one marked section and rewrites only it."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nMeasured on this project's CI machine kind; each section says how to reproduce it.\n"


def update_section(doc: Path, name: str, body: str) -> None:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = doc.read_text() if doc.exists() else HEADER
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
