"""Limits every side of snoop agrees on, each stated once."""

from __future__ import annotations

PATH_MAX = 4096          # Linux's, the terminating NUL included: a path holds at most 4,095 bytes
INT64_MAX = 2**63 - 1    # times in ns, sizes and counts as the database stores them
UINT64_MAX = 2**64 - 1   # the seed report's counters
MESSAGE_FILES = 10_000   # files in one batch or inventory chunk: agents and `snoop push` cut there, the collector
                         # refuses more (its --max-message-files) before a Python object is made per file
