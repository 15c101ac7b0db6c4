"""What the agent costs a workload, against no tracing and against bpftrace, in one interleaved run.

Workloads run as real containers (the test harness's throwaway containerd):
  loop    a static C loop of open+close+stat over a few files: the repeated-access worst case
  python  20 python3 start-ups importing a dozen stdlib modules: a realistic, import-heavy start
Modes: none (no tracer), agent (snoop agent, standalone), bpftrace (the same syscalls' paths counted in
an in-kernel map: the lightest possible peer). Rounds are interleaved so drift hits every mode alike.

    .venv/bin/python bench/agent_overhead.py [--rounds 4]      (root; writes docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.report import update_section  # noqa: E402
from tests.harness.containerd import Containerd, Image  # noqa: E402
from tests.harness.hostcopy import python_strace_rootfs  # noqa: E402
from tests.harness.images import busybox_rootfs  # noqa: E402

MODES = ("none", "agent", "bpftrace")
LOOP_FILES = ["/etc/passwd", "/etc/group", "/bin/busybox", "/app/data.txt"]
PY_IMPORTS = "import json, sqlite3, email.parser, http.client, argparse, decimal, asyncio, logging, urllib.request"
BPFTRACE = """
tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_newfstatat,
tracepoint:syscalls:sys_enter_statx, tracepoint:syscalls:sys_enter_faccessat,
tracepoint:syscalls:sys_enter_faccessat2, tracepoint:syscalls:sys_enter_execve,
tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_newstat,
tracepoint:syscalls:sys_enter_newlstat, tracepoint:syscalls:sys_enter_access
/cgroup != 1/ { @files[cgroup, str(args->filename)] = count(); }
"""
_ELAPSED = re.compile(rb"elapsed_ns=(\d+) ops=(\d+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    elapsed_s: float
    ops: int
    tracer_cpu_s: float = 0.0
    tracer_rss_kib: int = 0
    loader_rss_kib: int = 0
    kernel_events: float = 0.0
    delivered: float = 0.0
    dropped: float = 0.0


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, workload: str, mode: str, sample: Sample) -> None:
        self.samples.setdefault((workload, mode), []).append(sample)

    def median(self, workload: str, mode: str, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples[(workload, mode)])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((name + " ", name + "{")))


class Tracer:
    """One mode's tracer process, started before a workload and stopped after it."""

    def __init__(self, mode: str, containerd: Containerd, work: Path) -> None:
        self.mode = mode
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        if mode == "agent":
            self.port = 19090
            self.log = work / "agent.log"
            with open(self.log, "w") as log:
                self.proc = subprocess.Popen(
                    [str(REPO / ".venv/bin/snoop"), "agent", "--cri-endpoint", containerd.endpoint, "--output",
                     str(work / "reports"), "--interval", "1h", "--metrics-listen", f"127.0.0.1:{self.port}"],
                    stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            raise RuntimeError("agent did not become ready")
        if mode == "bpftrace":
            self.proc = subprocess.Popen(["bpftrace", "-e", BPFTRACE], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()  # "Attaching N probes..." once attached
            if b"Attaching" not in line:
                raise RuntimeError(f"bpftrace did not attach: {line!r}")

    def loader_rss_kib(self) -> int:
        """The peak of the child that compiled the program, as the agent logged it."""
        match = re.search(r"peak RSS (\d+) MiB", self.log.read_text()) if self.mode == "agent" else None
        return int(match.group(1)) * 1024 if match else 0

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0

    def counters(self) -> tuple[float, float, float]:
        if self.mode != "agent":
            return 0.0, 0.0, 0.0
        time.sleep(1.2)  # the agent publishes its counters once per batch interval (1 s)
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return metric(text, "snoop_events_total"), metric(text, "snoop_events_processed_total"), metric(
            text, "snoop_events_dropped_total")

    def stop(self) -> int:
        if not self.proc:
            return 0
        rss = peak_rss_kib(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        return rss


def loop_rootfs(root: Path) -> Path:
    """busybox with bench/workload.c built static at /bin/workload and LOOP_FILES' /app/data.txt."""
    busybox_rootfs(root)
    (root / "app" / "data.txt").write_text("x\n")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin/workload"), str(REPO / "bench/workload.c")],
                   check=True)
    return root


def run_workload(containerd: Containerd, image: Image, command: list[str], name: str) -> tuple[float, int]:
    pod = containerd.run_pod(name, {"w": (image, command)})
    try:
        code = containerd.wait_exited(pod.containers["w"], timeout_s=600)
        log = (containerd.root / "logs" / pod.uid / "w.log").read_bytes()
        match = _ELAPSED.search(log)
        if code != 0 or not match:
            raise RuntimeError(f"workload failed ({code}): {log[-500:]!r}")
        return int(match.group(1)) / 1e9, int(match.group(2))
    finally:
        containerd.remove_pod(pod)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--loop-iterations", type=int, default=400_000)
    parser.add_argument("--python-runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print, do not update docs/benchmarks.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="snoop-bench-"))
    containerd = Containerd(work / "containerd")
    containerd.start()
    try:
        loop_root = loop_rootfs(work / "loop")
        py_root = python_strace_rootfs(work / "python")
        shutil.copy2(loop_root / "bin/workload", py_root / "bin/workload")
        images = {"loop": containerd.import_image("bench-loop", rootfs=loop_root),
                  "python": containerd.import_image("bench-python", rootfs=py_root)}
        commands = {
            "loop": ["/bin/workload", "loop", str(args.loop_iterations), *LOOP_FILES],
            "python": ["/bin/workload", "spawn", str(args.python_runs), "/usr/bin/python3", "-c", PY_IMPORTS],
        }
        results = Results()
        for r in range(args.rounds):
            order = MODES[r % 3:] + MODES[: r % 3]
            for workload in ("loop", "python"):
                for mode in order:
                    tracer = Tracer(mode, containerd, work)
                    before_cpu, before = tracer.cpu(), tracer.counters()
                    elapsed, ops = run_workload(containerd, images[workload], commands[workload],
                                                f"bench-{workload}-{mode}-{r}")
                    after_cpu, after = tracer.cpu(), tracer.counters()
                    rss = tracer.stop()
                    sample = Sample(elapsed, ops, after_cpu - before_cpu, rss, tracer.loader_rss_kib(),
                                    after[0] - before[0], after[1] - before[1], after[2] - before[2])
                    results.add(workload, mode, sample)
                    print(f"round {r} {workload:6} {mode:8} {elapsed:7.3f}s cpu={sample.tracer_cpu_s:.2f}s "
                          f"kernel={sample.kernel_events:.0f} delivered={sample.delivered:.0f}", flush=True)
        text = render(results, args)
        print(text)
        if not args.no_write:
            update_section(REPO / "docs/benchmarks.md", "agent-overhead", text)
    finally:
        containerd.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(results: Results, args: argparse.Namespace) -> str:
    kernel = subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    lines = [
        "## Agent overhead",
        "",
        f"`.venv/bin/python bench/agent_overhead.py --rounds {args.rounds}` — kernel {kernel}, "
        f"{os.cpu_count()} CPUs; medians of {args.rounds} interleaved rounds; workloads are real containers.",
        "",
        "| workload | mode | wall time | × none | rounds' spread | tracer CPU | tracer CPU / wall | tracer peak RSS "
        "| its loader's peak RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for workload in ("loop", "python"):
        base = results.median(workload, "none", "elapsed_s")
        for mode in MODES:
            wall = results.median(workload, mode, "elapsed_s")
            cpu = results.median(workload, mode, "tracer_cpu_s")
            rss = results.median(workload, mode, "tracer_rss_kib")
            walls = [x.elapsed_s for x in results.samples[(workload, mode)]]
            lines.append(
                f"| {workload} | {mode} | {wall:.3f} s | ×{wall / base:.3f} | "
                f"{min(walls):.2f}–{max(walls):.2f} s | "
                + ("—" if mode == "none" else f"{cpu:.2f} s") + " | "
                + ("—" if mode == "none" else f"{100 * cpu / wall:.1f} %") + " | "
                + ("—" if mode == "none" else f"{rss / 1024:.0f} MiB") + " | "
                + (f"{results.median(workload, mode, 'loader_rss_kib') / 1024:.0f} MiB" if mode == "agent"
                   else "—") + " |"
            )
    lines += ["", "| workload | syscalls/s (none) | seen in kernel by agent /s | delivered to Python /s | drops |",
              "|---|---|---|---|---|"]
    for workload in ("loop", "python"):
        ops = results.median(workload, "none", "ops") / results.median(workload, "none", "elapsed_s")
        wall = results.median(workload, "agent", "elapsed_s")
        seen = results.median(workload, "agent", "kernel_events") / wall
        delivered = results.median(workload, "agent", "delivered") / wall
        drops = max(s.dropped for s in results.samples[(workload, "agent")])
        lines.append(f"| {workload} | {ops:,.0f} | {seen:,.0f} | {delivered:,.1f} | {drops:.0f} |")
    lines += ["", "`loop` counts open+stat calls as ops (syscalls/s is the untraced rate); `python` counts "
              "interpreter start-ups. 'seen in kernel' is the agent's `snoop_events_total`; 'delivered' is "
              "`snoop_events_processed_total` (new files).",
              "",
              "Reading it: repeated accesses end in the kernel, so the agent's CPU stays at about 1% of one core "
              "however fast the loop runs, and did not grow with the rate. Each traced syscall pays the enter "
              "program's steps, measured one by one below. Where the rounds' spreads of agent and bpftrace "
              "overlap, the difference between them is the VM's noise, not something this benchmark can resolve "
              "(`bench/agent_cost.py`, below, measures the hot path step by step). The agent's own memory is "
              "Python and its data; BCC's embedded LLVM lives only in the child that compiles and loads the "
              "program, for the first seconds (the loader's peak)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
