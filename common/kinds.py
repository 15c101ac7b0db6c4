"""How a file was touched: the bits of ``snoop.v1.AccessKind``, named once for every layer. The BPF
program's ``KIND_*`` and ``agent.events.AccessKind`` are checked against them (tests/agent/test_bpf_contract.py)."""

from __future__ import annotations

from collections.abc import Iterable

NAMES = ("read", "write", "exec", "stat", "readlink")
BITS = tuple(1 << i for i in range(len(NAMES)))
ALL = (1 << len(NAMES)) - 1
_LISTS = [[name for i, name in enumerate(NAMES) if bits & (1 << i)] for bits in range(ALL + 1)]


def names_of(bits: int) -> list[str]:
    return _LISTS[bits & ALL]


def bits_of(names: Iterable[str]) -> int:
    bits = 0
    for name in names:
        if name not in NAMES:
            raise ValueError(f"unknown kind {name!r}; one of {', '.join(NAMES)}")
        bits |= 1 << NAMES.index(name)
    return bits
