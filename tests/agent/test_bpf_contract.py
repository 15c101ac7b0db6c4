"""The numbers the BPF program and Python share are the same on both sides (no privileges needed): the
access-kind bits (also snoop.v1.AccessKind), the bookkeeping kinds, a process's standing, and the order
of the stats slots."""

from __future__ import annotations

import re

from snoop.agent import events
from snoop.agent.tracer import PROC_CONTAINER, STAT_NAMES, program_text
from snoop.common import kinds as common_kinds
from snoop.v1 import snoop_pb2 as pb

C = program_text()


def c_defines(prefix: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(rf"^#define {prefix}(\w+) (\d+)\s", C, re.M)}


def test_kind_bits_agree() -> None:
    kinds = c_defines("KIND_")
    assert {k: v for k, v in kinds.items() if v <= 16} == {k.name: k.value for k in events.AccessKind}
    wire = {v.name.removeprefix("ACCESS_KIND_"): v.number for v in pb.AccessKind.DESCRIPTOR.values if v.number}
    assert wire == {k.name: k.value for k in events.AccessKind}
    assert {n.upper(): b for n, b in zip(common_kinds.NAMES, common_kinds.BITS, strict=True)} == wire
    for name in ("CHDIR", "FCHDIR", "FORK", "OPENDIR", "ENTER", "MISSING", "CGROUP"):
        assert kinds[name] == getattr(events, f"KIND_{name}"), name
    assert c_defines("PROC_")["CONTAINER"] == PROC_CONTAINER  # what Tracer.adopt writes into `procs`


def test_stats_slots_are_in_the_programs_order() -> None:
    body = re.search(r"enum stat_slot \{(.*?)\};", C, re.S)
    assert body is not None
    slots = [s for s in re.findall(r"\b(STAT_\w+)", re.sub(r"//[^\n]*", "", body.group(1))) if s != "STAT_SLOTS"]
    assert [s.lower().removeprefix("stat_").removesuffix("_done") for s in slots] == list(STAT_NAMES)
