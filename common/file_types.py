"""What a reported path is in its container: the values of ``snoop.v1.FileType``, named for every layer.

A keep-list lists files and the links to them. A directory in it would keep its whole subtree (as
SlimToolkit's ``--include-path-file`` does), and what the runtime mounts (``/etc/hosts``, …) is not
the image's at all: both are reported, typed, and left out of keep-lists and diffs.
"""

from __future__ import annotations

UNKNOWN, FILE, DIR, SYMLINK, RUNTIME, MISSING = range(6)
NAMES = ("unknown", "file", "dir", "symlink", "runtime", "missing")
KEEP = (UNKNOWN, FILE, SYMLINK)
# A pod report (the seed format) lists kept paths under ``files``, these under their own keys. ``missing``:
# what a slim image's container looked for and did not find (snoop verify).
REPORT_SECTIONS = {DIR: "directories", RUNTIME: "runtime_provided", MISSING: "missing"}


def type_codes(names: list[str]) -> tuple[int, ...]:
    for name in names:
        if name not in NAMES:
            raise ValueError(f"unknown type {name!r}; one of {', '.join(NAMES)}")
    return tuple(sorted({NAMES.index(n) for n in names}))
