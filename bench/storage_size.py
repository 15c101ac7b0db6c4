"""How big the database grows: bytes per container instance's file row and per image inventory row, on
SQLite and PostgreSQL, tables and indexes included, measured by loading known numbers of rows.

    .venv/bin/python bench/storage_size.py            (root: starts a throwaway PostgreSQL)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from bench.contents import big_image  # noqa: E402
from bench.report import update_section  # noqa: E402
from snoop.collector.storage.db import make_engine  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.harness.postgres import Postgres  # noqa: E402

TABLES = ("paths", "instance_files", "image_files", "inventory_files", "package_files", "container_instances")


def sizes(url: str) -> dict[str, int]:
    """Bytes per table, indexes included."""
    engine = make_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            rows = conn.execute(text("SELECT tbl_name, name FROM sqlite_master WHERE type IN ('table', 'index')"))
            owner = {name: table for table, name in rows}
            out: dict[str, int] = {}
            for name, size in conn.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")):
                out[owner.get(name, name)] = out.get(owner.get(name, name), 0) + size
        else:
            tree = text("SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(:t)), "
                        "pg_total_relation_size(:t))")  # a partitioned table's size is its partitions'
            out = {t: int(conn.execute(tree, {"t": t}).scalar() or 0) for t in TABLES}
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0 for t in TABLES}
    engine.dispose()
    return {t: out.get(t, 0) for t in TABLES} | {f"{t}#rows": counts[t] for t in TABLES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="snoop-bench-size-"))
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="snoop-bench-postgres-")), free_port())
    postgres.start()
    results = {}
    try:
        for name, url in (("SQLite", f"sqlite:///{work}/size.db"), ("PostgreSQL", postgres.new_database())):
            big_image(url, 100_000, 500, 1000, 5000, 100)
            results[name] = sizes(url)
            print(name, results[name], flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    text_ = render(results)
    print(text_)
    if not args.no_write:
        update_section(REPO / "docs/benchmarks.md", "storage", text_)
    return 0


def render(results: dict[str, dict[str, int]]) -> str:
    lines = ["## Storage size", "",
             "`.venv/bin/python bench/storage_size.py` — one image of 100,000 inventory files in 500 packages, run "
             "by 1,000 container instances of 100 files each (5,000 distinct): bytes per row, tables and indexes "
             "included.", "",
             "| table | rows | SQLite bytes/row | PostgreSQL bytes/row |", "|---|---|---|---|"]
    sqlite, pg = results["SQLite"], results["PostgreSQL"]
    for t in TABLES:
        rows = sqlite[f"{t}#rows"]
        lines.append(f"| {t} | {rows:,} | {sqlite[t] / max(rows, 1):.0f} | {pg[t] / max(pg[f'{t}#rows'], 1):.0f} |")
    per_instance = {n: r["instance_files"] / r["instance_files#rows"] for n, r in results.items()}
    per_inventory = {n: (r["inventory_files"] + r["package_files"] + r["paths"] * r["inventory_files#rows"]
                         / max(r["paths#rows"], 1)) / r["inventory_files#rows"] for n, r in results.items()}
    lines += ["", f"Reading it: a container instance costs its files × {per_instance['SQLite']:.0f} bytes on SQLite "
              f"and × {per_instance['PostgreSQL']:.0f} bytes on PostgreSQL (a 1,000-file container: "
              f"{per_instance['SQLite'] * 1000 / 1e3:.0f} kB and {per_instance['PostgreSQL'] * 1000 / 1e3:.0f} kB), "
              "until `--retain-instances` deletes it; what it added to its image's merged report stays. An image "
              f"costs about {per_inventory['SQLite']:.0f} / {per_inventory['PostgreSQL']:.0f} bytes per file it "
              "holds (inventory, owners, interned paths), until `--retain-images` deletes it."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
