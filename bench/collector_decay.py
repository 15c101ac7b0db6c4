"""Ingest as the tables grow, on SQLite and PostgreSQL: does the rate hold to 20,000,000 instance-file rows?

Two images × 10,000 container instances × 1,000 files (from a pool of 100,000 paths per image) through the real
gRPC ingest by 4 agent streams, batches made as they are sent (20 M rows do not fit in memory built up front).
The rate of the last 10% of rows is compared with the first 10%'s, and the REST latencies of bench/collector.py
are measured again at that size.

    .venv/bin/python bench/collector_decay.py        (root: starts a throwaway PostgreSQL; ~30 min)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collector import STREAMS, ingest, latency_rows, rest, stream_batches  # noqa: E402
from bench.report import update_section  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.harness.postgres import Postgres  # noqa: E402

READING = ("Reading it: PostgreSQL holds its rate (×0.84); SQLite's last tenth ran at ×0.45 its first (×1.13 when "
           "last measured, before the index from paths to instances (0010) and the count triggers (0011)). Not "
           "profiled yet: the likely cause is that index, whose inserts land at random in a B-tree of 20,000,000 "
           "entries through SQLite's 2 MB page cache (the triggers fire only for paths new to their image, none in "
           "the last tenth). Cold reads at this size follow the instances behind each path: a page's nodes column "
           "reads about 100 instances per path here, 10 at 2,000,000 rows (~100 ms against ~40). The warm full "
           "JSON on SQLite (113 / 152 ms) was not profiled either.")


def tenth_rates(progress: list[tuple[float, int]]) -> tuple[float, float]:
    """Rows/s over the first tenth of the rows acknowledged, and over the last tenth."""
    progress.sort()
    total = sum(n for _, n in progress)
    done, t_first, t_last_start = 0, None, None
    for t, n in progress:
        done += n
        if t_first is None and done >= total / 10:
            t_first = t
        if t_last_start is None and done >= total * 9 / 10:
            t_last_start = t
    assert t_first is not None and t_last_start is not None
    return total / 10 / (t_first - progress[0][0]), total / 10 / (progress[-1][0] - t_last_start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="snoop-bench-decay-"))
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="snoop-bench-postgres-")), free_port())
    postgres.start()
    results = {}
    try:
        for name, url in (("SQLite", f"sqlite:///{work}/snoop.db"), ("PostgreSQL", postgres.new_database())):
            progress: list[tuple[float, int]] = []
            streams = [stream_batches(k, 2, args.instances, args.files, args.pool) for k in range(STREAMS)]
            elapsed, rows = ingest(url, streams, progress)
            first, last = tenth_rates(progress)
            results[name] = {"rows": rows, "elapsed": elapsed, "first": first, "last": last,
                             "rest": rest(url, args.requests, args.pool)}
            print(name, results[name], flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    update_section(REPO / "docs/benchmarks.md", "collector-decay", render(results, args))
    return 0


def render(results: dict, args: argparse.Namespace) -> str:
    lines = [
        "## Collector, as the tables grow",
        "",
        f"`.venv/bin/python bench/collector_decay.py` — 2 images × {args.instances:,} container instances × "
        f"{args.files:,} files from a pool of {args.pool:,} paths per image, through gRPC by {STREAMS} streams "
        "whose batches are made as they are sent (in the benchmark's process, so the absolute rate is lower than "
        "in the section above; the ratio is what this measures).",
        "",
        "| database | file rows | ingest | rows/s | first 10% rows/s | last 10% rows/s | last / first (≥ 0.80) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ratio = r["last"] / r["first"]
        verdict = "met" if ratio >= 0.8 else "**missed**"
        lines.append(f"| {name} | {r['rows']:,} | {r['elapsed'] / 60:.1f} min | {r['rows'] / r['elapsed']:,.0f} | "
                     f"{r['first']:,.0f} | {r['last']:,.0f} | ×{ratio:.2f}, {verdict} |")
    lines += ["", f"REST latency at that size (the merged image now has {args.instances:,} instances behind its "
              f"{args.pool:,} files), {args.requests} requests each, cold after a change as above:", "",
              "| database | request | p50 | p95 | target p95 |", "|---|---|---|---|---|"]
    lines += latency_rows(results, sizes=False)
    lines += ["", READING]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
