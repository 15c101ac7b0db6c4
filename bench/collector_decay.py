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

READING = ("Reading it: both hold their rate (SQLite ×1.02, PostgreSQL ×1.10). SQLite's had fallen to ×0.45 with the "
           "index from paths to instances (0010), whose entries for each new instance land in a different leaf per "
           "path, every one written at commit; a 256 MiB page cache left it at ×0.51, and without the index the same "
           "run held ×0.99 and a 10,000,000-row run took ×0.66 the time. 0012 replaced it by a count of nodes per "
           "path kept with the merged row, so a cold page at this size reads no instances (~100 ms with the index, "
           "19–20 ms now). PostgreSQL's full JSON at this size (cold 630 / 947 ms, warm p95 136 ms) ran while "
           "autovacuum worked through the tables ingest had just grown; not profiled.")


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
