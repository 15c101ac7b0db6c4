"""The test cluster's costs: building its binaries from the Go module proxy (cold: an empty Go build cache and
module cache given with --cold; warm: nothing to do) and bringing it up and down (until the node is Ready and
cluster DNS answers), against a baseline in the same run: starting containerd alone, as the other tests do."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import update_section  # noqa: E402
from tests.harness.cluster import TOOLS, Cluster, binaries  # noqa: E402
from tests.harness.containerd import Containerd  # noqa: E402


def timed(action) -> float:  # noqa: ANN001 - any callable
    started = time.monotonic()
    action()
    return time.monotonic() - started


def build_seconds(cold: bool) -> float:
    """Building every binary the cluster runs; cold: into fresh caches (the Go module proxy is still reached)."""
    env = dict(os.environ)
    scratch = Path(tempfile.mkdtemp(prefix="snoop-bench-tools-"))
    if cold:
        env.update(SNOOP_TOOLS=str(scratch / "tools"), GOCACHE=str(scratch / "go-build"),
                   GOMODCACHE=str(scratch / "go-mod"))
    try:
        return timed(lambda: subprocess.run([str(REPO / "scripts/tool.sh"), *TOOLS], check=True, env=env))
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time a cold build (about 15 minutes on 2 cores)")
    args = parser.parse_args()
    cold = build_seconds(cold=True) if args.cold else None
    warm = build_seconds(cold=False)
    tools = binaries()
    ups, downs, baselines = [], [], []
    for _ in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="snoop-bench-containerd-"))
        daemon = Containerd(root)
        baselines.append(timed(daemon.start))
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
        cluster = Cluster(Path(tempfile.mkdtemp(prefix="snoop-bench-cluster-")), tools)
        ups.append(timed(cluster.up))
        downs.append(timed(cluster.down))
        shutil.rmtree(cluster.root, ignore_errors=True)
    up, down, base = (statistics.median(v) for v in (ups, downs, baselines))
    cold_row = f"| cold build of every binary | {cold / 60:.1f} min | |\n" if cold is not None else ""
    update_section(REPO / "docs/benchmarks.md", "cluster", f"""## The test cluster

`.venv/bin/python bench/cluster.py{' --cold' if cold is not None else ''}` — the single-node Kubernetes of
`tests/cluster/` (tests/harness/cluster): its binaries built by `scripts/tool.sh` from `tools/cluster/go.mod` and
`tools/versions`, then brought up until the node is Ready and CoreDNS rolled out, and torn down; medians of
{args.runs} runs. Baseline: starting the throwaway containerd the other tests use (its pause image included).

| step | time | × baseline |
|---|---|---|
{cold_row}| build, warm (all cached) | {warm:.1f} s | |
| containerd alone (baseline) | {base:.1f} s | 1 |
| cluster up | {up:.1f} s | {up / base:.1f} |
| cluster down | {down:.1f} s | {down / base:.1f} |

Reading it: a cold build compiles Kubernetes, etcd, crictl, helm and CoreDNS from source on this machine's 2 cores
(the Go module cache included); `make test` does it once per version, and every later run finds the binaries
cached. Up is mostly the API server's first start and the node's first pod (CoreDNS); down stops the pods first.
""")
    print(f"cold {cold} warm {warm:.1f} base {base:.1f} up {up:.1f} down {down:.1f}")


if __name__ == "__main__":
    main()
