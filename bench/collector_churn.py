"""A month of container churn on PostgreSQL: retention by day partitions against the same churn with row deletes.

Each simulated day starts --instances container instances of --files file rows each; a tenth of them run for
the whole month (they are seen every day), the rest run less than a day. After each day, retention with
--retain-days runs as it would at midnight:
- **partitions**: snoop's retention (`collector/storage/days.py`): the running instances of each day that is
  wholly expired move their rows to the day they were last seen, the others go with their day's partition, dropped.
- **row deletes**: the same database schema as before 0009 (one unpartitioned table), and snoop's row-delete
  retention (`remove_instances`, 50 instances per transaction: what SQLite runs), followed by a `VACUUM` of the
  table each day, which is as well as autovacuum could keep up.
Both get their rows by the same `COPY` and keep the same rows. Measured: retention's time and WAL, the vacuum's
time, and the table's size (heap and indexes) at the end, per row it holds.

    .venv/bin/python bench/collector_churn.py        (root: starts a throwaway PostgreSQL; ~10 min)
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import update_section  # noqa: E402
from snoop.collector.storage import retention as retained  # noqa: E402
from snoop.collector.storage import spread  # noqa: E402
from snoop.collector.storage.days import open_day  # noqa: E402
from snoop.collector.storage.db import make_engine, make_sessionmaker  # noqa: E402
from snoop.collector.storage.migrate import upgrade  # noqa: E402
from snoop.collector.storage.models import DAY_NS  # noqa: E402
from snoop.collector.storage.retention import BATCH, Removed, Retention  # noqa: E402
from snoop.collector.storage.spread import node_key  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.harness.postgres import Postgres  # noqa: E402

FIRST_DAY = 20_000
SIZE = ("SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('instance_files')), "
        "pg_total_relation_size('instance_files'))")  # partitioned or not
INSTANCE = ("INSERT INTO container_instances (id, node, container_id, name, namespace, pod, pod_uid, image_id, "
            "image_reference, cgroup_id, cgroup_path, workload_kind, workload_name, started_at_ns, first_seen_ns, "
            "last_seen_ns, total_events, dropped_events{day_column}) VALUES (:id, 'node', :cid, 'app', 'ns', :cid, "
            "'uid', 1, 'app:1', 1, '/x', '', '', :t, :t, :last, 0, 0{day_value})")


@dataclass
class Run:
    retention_s: float = 0.0
    retention_wal: int = 0
    vacuum_s: float = 0.0
    rows: int = 0
    size: int = 0
    forget_s: float = 0.0  # nodes per path counted out: not in retention_s and retention_wal
    forget_wal: int = 0
    daily_size: list[int] = field(default_factory=list)


def wal(conn: Connection, position: str = "pg_current_wal_lsn") -> int:
    return int(conn.execute(text(f"SELECT pg_wal_lsn_diff({position}(), '0/0')")).scalar_one())


def start_day(engine: Engine, day: int, first_id: int, args: argparse.Namespace, rng: random.Random,
              by_day: bool) -> None:
    """The day's new instances and their rows (COPY), and a heartbeat from every long-running one."""
    t = day * DAY_NS
    with engine.begin() as conn:
        if by_day:
            open_day(conn, day)
        conn.execute(text("UPDATE container_instances SET last_seen_ns = :t WHERE container_id LIKE 'long-%'"),
                     {"t": t + DAY_NS})  # seen through the day
        sql = INSTANCE.format(day_column=", files_day" if by_day else "", day_value=", :day" if by_day else "")
        instances = []
        for n in range(args.instances):
            long = n < args.instances // 10
            last = t + (DAY_NS if long else rng.randrange(DAY_NS // 2))
            instances.append({"id": first_id + n, "cid": f"{'long' if long else 'short'}-{first_id + n}",
                              "t": t, "last": last, "day": day})
        conn.execute(text(sql), instances)
        columns = "instance_id, path_id, kinds, first_seen_ns, last_seen_ns, file_type" + (", day" if by_day else "")
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor as cur, cur.copy(f"COPY instance_files ({columns}) FROM STDIN") as copy:
            for n in range(args.instances):
                for path_id in rng.sample(range(args.pool), args.files):
                    copy.write_row((first_id + n, path_id, 1, t, t, 1, day) if by_day
                                   else (first_id + n, path_id, 1, t, t, 1))
        if by_day:  # the paths the node now uses, as ingest adds them (storage/spread.py)
            conn.execute(text("INSERT INTO image_node_paths (image_id, node_key, path_id) SELECT DISTINCT 1, :key, "
                              "path_id FROM instance_files WHERE instance_id >= :first ON CONFLICT DO NOTHING"),
                         {"key": node_key("node"), "first": first_id})


class Forgetting:
    """Retention's count of nodes per path (storage/spread.py), timed apart: the table of before 0009 has no
    rows for it, so the row-delete run leaves it out and the comparison holds the same work on both sides."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.wal = 0

    def timed(self, session: Session, gone: list[tuple[int, str]]) -> None:
        began, lsn = time.perf_counter(), wal(session.connection(), "pg_current_wal_insert_lsn")
        spread.forget(session, gone)
        self.seconds += time.perf_counter() - began
        self.wal += wal(session.connection(), "pg_current_wal_insert_lsn") - lsn

    @staticmethod
    def skipped(session: Session, gone: list[tuple[int, str]]) -> None:
        """Not measured on the row-delete table."""


def retention(engine: Engine, retain_s: float, by_day: bool) -> Callable[[int], object]:
    """Snoop's retention at ``now_ns``: by day on the partitioned table, or the row deletes SQLite runs (its
    ``_remove_instances``, the same code) on the table of before 0009."""
    retain = Retention(make_sessionmaker(engine), retain_instances_s=retain_s, retain_images_s=0,
                       write_lock=contextlib.nullcontext())
    if by_day:
        return lambda now_ns: retain.run_once(now_ns=now_ns)
    return lambda now_ns: retain._remove_instances(now_ns - int(retain_s * 1e9), Removed())


def simulate(engine: Engine, by_day: bool, args: argparse.Namespace) -> Run:
    rng = random.Random(7)
    forgetting = Forgetting()
    retained.forget = forgetting.timed if by_day else forgetting.skipped  # type: ignore[assignment]
    retain = retention(engine, args.retain_days * 86400, by_day)
    run = Run()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO images (id, digest, first_seen_ns, last_seen_ns) VALUES (1, 'sha256:a', 0, 0)"))
    for k in range(args.days):
        day = FIRST_DAY + k
        start_day(engine, day, 1 + k * args.instances, args, rng, by_day)
        with engine.connect() as conn:
            before = wal(conn)
        began = time.perf_counter()
        retain((day + 1) * DAY_NS)  # at midnight
        run.retention_s += time.perf_counter() - began
        with engine.connect() as conn:
            run.retention_wal += wal(conn) - before
        if not by_day:
            began = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM instance_files")
            run.vacuum_s += time.perf_counter() - began
        with engine.connect() as conn:
            run.daily_size.append(int(conn.execute(text(SIZE)).scalar_one()))
    with engine.connect() as conn:
        run.rows = conn.execute(text("SELECT count(*) FROM instance_files")).scalar_one()
        run.size = int(conn.execute(text(SIZE)).scalar_one())
    run.forget_s, run.forget_wal = forgetting.seconds, forgetting.wal
    run.retention_s -= forgetting.seconds
    run.retention_wal -= forgetting.wal
    return run


def database(postgres: Postgres, revision: str) -> Engine:
    engine = make_engine(postgres.new_database())
    upgrade(engine, revision)
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--retain-days", type=int, default=7)
    parser.add_argument("--instances", type=int, default=400, help="new container instances a day")
    parser.add_argument("--files", type=int, default=1000, help="file rows per instance")
    parser.add_argument("--pool", type=int, default=50_000, help="distinct paths")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="snoop-bench-postgres-")), free_port())
    postgres.start()
    results: dict[str, Run] = {}
    try:
        for name, revision, by_day in (("row deletes", "0008", False), ("partitions", "head", True)):
            engine = database(postgres, revision)
            results[name] = simulate(engine, by_day, args)
            engine.dispose()
            print(name, results[name], flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
    body = render(results, args)
    print(body)
    if not args.no_write:
        update_section(REPO / "docs/benchmarks.md", "collector-churn", body)
    return 0


def render(results: dict[str, Run], args: argparse.Namespace) -> str:
    base = results["row deletes"]
    mib = 1 << 20
    lines = [
        "## Retention: a month of churn on PostgreSQL",
        "",
        f"`.venv/bin/python bench/collector_churn.py` — {args.days} days; each day {args.instances:,} new container "
        f"instances × {args.files:,} file rows, a tenth of them running all month, the rest less than a day; "
        f"`--retain-instances {args.retain_days}d`, retention run once a day. *Row deletes*: the unpartitioned "
        "table of before 0009 and snoop's row-delete retention (what SQLite runs), with a `VACUUM` of the table "
        "after each day's deletes. *Partitions*: snoop's retention by day (the running instances of an expired "
        "day move to the day they were last seen, the day's partition is dropped). Same rows, same `COPY`; "
        f"{BATCH} instances per delete.",
        "",
        "| retention | rows kept | table + indexes | bytes per row kept | retention, month | its WAL | vacuum, month |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ratio = "" if r is base else f" (×{r.size / base.size:.2f})"
        time_ratio = "" if r is base else f" (×{r.retention_s / base.retention_s:.2f})"
        wal_ratio = "" if r is base else f" (×{r.retention_wal / max(base.retention_wal, 1):.2f})"
        lines.append(f"| {name} | {r.rows:,} | {r.size / mib:,.0f} MiB{ratio} | {r.size / max(r.rows, 1):,.0f} | "
                     f"{r.retention_s:,.1f} s{time_ratio} | {r.retention_wal / mib:,.0f} MiB{wal_ratio} | "
                     f"{r.vacuum_s:,.1f} s |")
    part = results["partitions"]
    lines += [
        "",
        f"Counting out nodes left with no instance of an image (storage/spread.py; the row-delete table has no "
        f"rows for it, so it is left out of the columns above): {part.forget_s:.1f} s and "
        f"{part.forget_wal / mib:,.1f} MiB of WAL over the month on top of retention by day. Here the one node "
        "runs the image all month, so each pass only looks; counting just the paths of kept instances instead, "
        "which reads all their files again at every pass, measured 35 s (×5 retention's own time).",
        "",
        f"Reading it: retention by day took ×{part.retention_s / base.retention_s:.2f} the time and "
        f"×{part.retention_wal / max(base.retention_wal, 1):.2f} the WAL of row deletes, and left nothing to vacuum "
        f"(row deletes: {base.vacuum_s:.1f} s of `VACUUM` on top); the table ends ×{part.size / base.size:.2f} the "
        "size. What a drop still pays for is moving the rows of the instances that outlive their day, each once per "
        "retention period: here a tenth of all instances run the whole month, so the rest of the time and WAL is "
        "theirs. A drop itself costs the same whatever the day holds, and the deletes it replaces grow with the "
        "rows: at 10,000 nodes, 480 M a day. The row-delete table had its best case, a vacuum after every "
        "day's deletes; autovacuum behind a busy ingest leaves more dead rows than that.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
