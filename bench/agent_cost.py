"""Where the agent's time goes on the hot path, against the same tracepoints doing nothing but counting.

One real container runs the open/stat loop in chunks on request (`bench/workload.c serve`). Between
chunks the bench switches which BPF programs are attached, so every mode runs in the same process, on
the same warm caches, interleaved round after round in a shuffled order; each mode's cost is the median
over rounds of its chunk minus the untraced chunk of the same round (paired, so drift cancels).

Timed modes:
  count                  the agent's sys_enter tracepoints, each bumping a per-CPU counter: the baseline
  count, syscall exits   the same on each syscall's sys_exit tracepoint too (how the agent hooked exits)
  count, raw exit        the same plus one raw sys_exit tracepoint (how it hooks them now)
  agent                  the agent's program as shipped
A second pass with kernel.bpf_stats_enabled reads each program's own run time per call, for those modes
and for the agent's program cut short after step n of its enter path (-DCUT=n): 1 cgroup lookup and
count, 2 process standing, 3 path read, 4 path hashed (the full program adds the `seen` lookup).

    .venv/bin/python bench/agent_cost.py [--rounds 60]      (root; writes docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bcc import BPF  # noqa: E402

from bench.agent_overhead import LOOP_FILES, loop_rootfs  # noqa: E402
from bench.report import update_section  # noqa: E402
from snoop.agent.tracer import PROC_CONTAINER, cflags, program_text, tracefs  # noqa: E402
from tests.harness.containerd import Containerd  # noqa: E402

CUTS = {1: "cgroup lookup, count", 2: "process standing", 3: "path read", 4: "path hashed"}
_RESULT = re.compile(r"elapsed_ns=(\d+) ops=(\d+) cpu_ns=(\d+) quiet_ns=(\d+)")
STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


def counting_program(tracepoints: list[bytes], *, raw_exit: bool = False) -> str:
    body = ["BPF_PERCPU_ARRAY(calls, u64, 1);",
            "static __always_inline int bump(void) { u32 z = 0; u64 *v = calls.lookup(&z); if (v) (*v)++; return 0; }"]
    for tp in tracepoints:
        category, name = tp.decode().split(":")
        body.append(f"TRACEPOINT_PROBE({category}, {name}) {{ return bump(); }}")
    if raw_exit:
        body.append("RAW_TRACEPOINT_PROBE(sys_exit) { return bump(); }")
    return "\n".join(body)


class Mode:
    """One BPF object, loaded once (BCC attaches every probe); attached only while its chunk runs."""

    def __init__(self, name: str, bpf: Any) -> None:
        self.name = name
        self.bpf = bpf
        self.tracepoints = {tp: b"tracepoint__" + tp.replace(b":", b"__") for tp in bpf.tracepoint_fds}
        self.raw = {tp: b"raw_tracepoint__" + tp for tp in bpf.raw_tracepoint_fds}
        self.detach()

    def attach(self) -> None:
        for tp, fn in self.tracepoints.items():
            self.bpf.attach_tracepoint(tp=tp, fn_name=fn)
        for tp, fn in self.raw.items():
            self.bpf.attach_raw_tracepoint(tp=tp, fn_name=fn)

    def detach(self) -> None:
        """In parallel: each detach waits for an RCU grace period (syscall tracepoints may fault)."""
        detaches = [partial(self.bpf.detach_tracepoint, tp) for tp in self.bpf.tracepoint_fds]
        detaches += [partial(self.bpf.detach_raw_tracepoint, tp) for tp in self.bpf.raw_tracepoint_fds]
        with ThreadPoolExecutor(len(detaches) or 1) as pool:
            list(pool.map(lambda detach: detach(), detaches))

    def adopt(self, pid: int) -> None:
        """Marks the workload as the container's, as the agent does for processes older than itself."""
        if self.name.startswith(("cut", "agent")):
            procs = self.bpf[b"procs"]
            procs[procs.Key(pid)] = procs.Leaf(PROC_CONTAINER)

    def program_time(self) -> dict[bytes, tuple[int, int]]:
        """(runs, run time ns) of each program, from its fd's fdinfo (kernel.bpf_stats_enabled on)."""
        out = {}
        for tp, fn in [*self.tracepoints.items(), *self.raw.items()]:
            fdinfo = Path(f"/proc/self/fdinfo/{self.bpf.funcs[fn].fd}").read_text()
            info = dict(line.split(":", 1) for line in fdinfo.splitlines())
            out[tp] = int(info.get("run_cnt", 0)), int(info.get("run_time_ns", 0))
        return out

    def close(self) -> None:
        self.bpf.cleanup()


def load_modes() -> list[Mode]:
    flags = cflags(ringbuf_pages=256, seen_entries=65536, tracefs=tracefs())
    text = program_text().encode()
    agent = Mode("agent", BPF(text=text, cflags=flags))
    enters = sorted(tp for tp in agent.tracepoints if tp.startswith(b"syscalls:"))
    exits = [tp.replace(b"sys_enter_", b"sys_exit_") for tp in enters if b"execve" not in tp]
    modes = [Mode("count", BPF(text=counting_program(enters))),
             Mode("count, syscall exits", BPF(text=counting_program([*enters, *exits]))),
             Mode("count, raw exit", BPF(text=counting_program(enters, raw_exit=True)))]
    modes += [Mode(f"cut {n}", BPF(text=text, cflags=[*flags, f"-DCUT={n}"])) for n in CUTS]
    return [*modes, agent]


class Workload:
    """The serving loop in a container; ``run`` asks for one chunk and returns its CPU ns per op, as
    its quietest slices ran (bench/workload.c)."""

    def __init__(self, containerd: Containerd, work: Path) -> None:
        image = containerd.import_image("bench-cost", rootfs=loop_rootfs(work / "rootfs"))
        fifos = work / "fifos"
        fifos.mkdir()
        command = ["/bin/workload", "serve", "/fifos/ctl", "/fifos/out", *LOOP_FILES]
        self.pod = containerd.run_pod("bench-cost", {"w": (image, command)}, mounts={"w": [("/fifos", str(fifos))]})
        deadline = time.monotonic() + 30
        while not (fifos / "out").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the workload did not make its FIFOs")
            time.sleep(0.05)
        self.ctl = open(fifos / "ctl", "w")  # noqa: SIM115 - open for the workload's life
        self.out = open(fifos / "out")  # noqa: SIM115
        self.pid = next(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                        and (p / "cmdline").read_bytes().startswith(b"/bin/workload\0serve"))

    def run(self, iterations: int) -> float:
        self.ctl.write(f"{iterations}\n")
        self.ctl.flush()
        match = _RESULT.search(self.out.readline())
        if not match:
            raise RuntimeError("the workload did not answer")
        return int(match.group(4)) / int(match.group(2))

    def stop(self) -> None:
        self.ctl.write("0\n")
        self.ctl.close()
        self.out.close()


@contextmanager
def attached(mode: Mode | None) -> Iterator[None]:
    if mode:
        mode.attach()
    try:
        yield
    finally:
        if mode:
            mode.detach()


def measure(workload: Workload, modes: list[Mode], rounds: int, iterations: int) -> dict[str, list[float]]:
    """Per mode, its chunk's ns/op minus the untraced chunk's of the same round."""
    added: dict[str, list[float]] = {m.name: [] for m in modes}
    for _ in range(rounds):
        order: list[Mode | None] = [None, *modes]
        random.shuffle(order)
        times = {}
        for mode in order:
            with attached(mode):
                times[mode.name if mode else "none"] = workload.run(iterations)
        for m in modes:
            added[m.name].append(times[m.name] - times["none"])
        print(" ".join(f"{name}={t - times['none']:+.0f}" for name, t in times.items()), flush=True)
    return added


def program_times(workload: Workload, modes: list[Mode], rounds: int,
                  iterations: int) -> dict[str, dict[bytes, float]]:
    """Per mode and tracepoint, the program's own ns per run (what bpf_stats sees, without dispatch):
    the median over rounds, each mode once per round in a shuffled order."""
    STATS.write_text("1")
    try:
        samples: dict[str, dict[bytes, list[float]]] = {m.name: {} for m in modes}
        for _ in range(rounds):
            for mode in random.sample(modes, len(modes)):
                before = mode.program_time()
                with attached(mode):
                    workload.run(iterations)
                after = mode.program_time()
                for tp in after:
                    runs = after[tp][0] - before[tp][0]
                    if runs > iterations:
                        samples[mode.name].setdefault(tp, []).append((after[tp][1] - before[tp][1]) / runs)
        return {name: {tp: statistics.median(v) for tp, v in per_tp.items()} for name, per_tp in samples.items()}
    finally:
        STATS.write_text("0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--iterations", type=int, default=10_000, help="loop iterations per chunk")
    parser.add_argument("--no-write", action="store_true", help="print, do not update docs/benchmarks.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="snoop-bench-"))
    containerd = Containerd(work / "containerd")
    containerd.start()
    modes: list[Mode] = []
    try:
        workload = Workload(containerd, work)
        modes = load_modes()
        for mode in modes:
            mode.adopt(workload.pid)
        for warm in [None, *modes]:  # warm-up: every mode's maps filled, the agent's paths seen
            with attached(warm):
                workload.run(args.iterations // 4)
        timed = [m for m in modes if not m.name.startswith("cut")]
        added = measure(workload, timed, args.rounds, args.iterations)
        programs = program_times(workload, modes, max(3, args.rounds // 6), args.iterations)
        workload.stop()
        text = render(added, programs, args)
        print(text)
        if not args.no_write:
            update_section(REPO / "docs/benchmarks.md", "agent-cost", text)
    finally:
        for mode in modes:
            mode.close()
        containerd.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(added: dict[str, list[float]], programs: dict[str, dict[bytes, float]],
           args: argparse.Namespace) -> str:
    count = statistics.median(added["count"])
    lines = [
        "## Agent cost on the hot path",
        "",
        f"`.venv/bin/python bench/agent_cost.py --rounds {args.rounds}` — kernel {os.uname().release}, "
        f"{os.cpu_count()} CPUs; one container runs open+close+stat over {len(LOOP_FILES)} files (repeated "
        f"accesses, the hot path) in chunks of {args.iterations:,} iterations, every mode once per round in a "
        "shuffled order. Added = median over rounds of (mode's chunk − untraced chunk of the same round), in "
        "the workload's CPU time per traced call (open or stat), each chunk taken as its quietest slices ran.",
        "",
        "| mode | added ns per call | quartiles over rounds | × count |",
        "|---|---|---|---|",
    ]
    for name, values in added.items():
        q = statistics.quantiles(values, n=4)
        lines.append(f"| {name} | {statistics.median(values):.0f} | {q[0]:.0f} to {q[2]:.0f} | "
                     f"×{statistics.median(values) / count:.2f} |")
    lines += ["", "Each program's own time per run (`kernel.bpf_stats_enabled`, which adds its own two clock "
              "reads to every run; the tracepoint's dispatch is not in it). The raw `sys_exit` probe runs for "
              "every syscall, close included; it ends at the in-flight check on this path.", "",
              "| mode | " + " | ".join(tp.decode().split(":")[-1] for tp in HOT) + " | enter: this step adds |",
              "|---|" + "---|" * (len(HOT) + 1)]
    previous = None
    for name, per_tp in programs.items():
        enter = statistics.mean(per_tp[tp] for tp in HOT if b"sys_enter" in tp and tp in per_tp)
        label = f"cut {name[4:]}: {CUTS[int(name[4:])]}" if name.startswith("cut") else name
        step = f"{enter - previous:+.0f} ns" if previous is not None and (name.startswith("cut") or name == "agent") \
            else "—"
        lines.append(f"| {label} | " + " | ".join(f"{per_tp[tp]:.0f} ns" if tp in per_tp else "—" for tp in HOT)
                     + f" | {step} |")
        if name in ("count", *(f"cut {n}" for n in CUTS)):
            previous = enter
    own = {name: statistics.mean(v for tp, v in per_tp.items() if b"sys_enter" in tp)
           for name, per_tp in programs.items()}
    ratio = statistics.median(added["agent"]) / count
    lines += ["", f"Reading it: against counting, the agent adds ×{ratio:.2f} on this run (target ≤ ×1.3, "
              f"{'met' if ratio <= 1.3 else '**missed**'}). The timed differences are of the order of the rounds' "
              "spread on this VM (a quiet slice still shares the host), so these ratios move by about ±0.5 between "
              "runs; the in-program times are steadier. A repeated access costs the agent's enter program "
              f"{own['agent'] - own['count']:.0f} ns more than a counter's: the cgroup's state (traced? and its "
              "access count), the process's standing (the container's or the runtime's: what keeps host and runtime"
              " files out of reports), the path read from user memory, its hash, and the dedup (the `seen` LRU; a "
              "per-CPU direct-mapped slot in front of it did not measurably help). Each is a promise: without the "
              "standing the runtime's files leak in, without the read and the dedup every access goes to userspace."
              " Exits: one raw `sys_exit` probe replaced one tracepoint per syscall; it runs for every syscall but "
              "returns at the in-flight check, and costs about what the per-syscall exits cost on this loop (which "
              "closes as often as it opens), less on loops without a close. What is left above counting is that "
              "enter work, two to four hash-map or array lookups and a user-memory copy per call; closing the gap "
              "to ×1.3 would mean skipping one of them on repeats, which the kernel offers no cheaper way to do "
              "without kernel structs (task storage needs BTF-typed task pointers)."]
    return "\n".join(lines) + "\n"


HOT = [b"syscalls:sys_enter_openat", b"syscalls:sys_exit_openat", b"syscalls:sys_enter_newfstatat",
       b"syscalls:sys_exit_newfstatat", b"sys_exit"]


if __name__ == "__main__":
    sys.exit(main())
