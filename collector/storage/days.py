"""PostgreSQL's partitions of ``instance_files``, one per day (0009): retention drops a day's rows whole, so
a big cluster's churn (hundreds of millions of rows a day) costs a catalog change instead of row deletes,
their WAL and the bloat vacuum must chase.

Every container instance files its rows under its ``files_day``. A day is closed, once all of it is older
than the retention, in three steps: the instances still running move their rows to today (a few at a time,
each under its row lock, so ingest never writes to a day being closed), the expired ones are deleted, and the
day's partition is dropped in that same transaction, so an instance revived meanwhile keeps its day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import Connection, text

PARTITION_LOCK = 0x736E6F6F72  # replicas opening the same day take turns
EPOCH = date(1970, 1, 1)
BOUND = re.compile(r"FOR VALUES FROM \((\d+)\)")


def day_table(day: int) -> str:
    """The partition holding ``day``'s rows, named by its date for whoever lists the tables."""
    return "instance_files_" + (EPOCH + timedelta(days=day)).strftime("%Y_%m_%d")


def day_exists(conn: Connection, day: int) -> bool:
    return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": day_table(day)}).scalar_one()


def open_day(conn: Connection, day: int) -> None:
    """Makes ``day``'s partition if missing. Created apart and attached: attaching takes a lock that lets
    ingest and reads go on, where ``CREATE TABLE … PARTITION OF`` would stop them."""
    if day_exists(conn, day):
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PARTITION_LOCK})
    if day_exists(conn, day):  # another replica made it while this one waited
        return
    table = day_table(day)
    conn.exec_driver_sql(f"CREATE TABLE {table} (LIKE instance_files INCLUDING DEFAULTS)")
    conn.exec_driver_sql(f"ALTER TABLE instance_files ATTACH PARTITION {table} FOR VALUES FROM ({day}) TO ({day + 1})")


def filed_days(conn: Connection) -> list[int]:
    """The days that have a partition, oldest first (read from the catalog: bounds, not names)."""
    rows = conn.execute(text(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'instance_files'::regclass"))
    return sorted(int(BOUND.match(bound)[1]) for (bound,) in rows)  # type: ignore[index]


def move_running(conn: Connection, day: int, today: int, before_ns: int, batch: int) -> tuple[int, int]:
    """Up to ``batch`` of ``day``'s instances seen since ``before_ns`` move their rows to ``today``.
    Returns (instances, rows) moved; (0, 0) when none is left."""
    ids = list(conn.execute(text(
        "SELECT id FROM container_instances WHERE files_day = :day AND last_seen_ns >= :before "
        "ORDER BY id LIMIT :n FOR UPDATE"), {"day": day, "before": before_ns, "n": batch}).scalars())
    if not ids:
        return 0, 0
    open_day(conn, today)
    conn.execute(text("UPDATE container_instances SET files_day = :today WHERE id = ANY(:ids)"),
                 {"today": today, "ids": ids})
    moved = conn.execute(text("UPDATE instance_files SET day = :today WHERE day = :day AND instance_id = ANY(:ids)"),
                         {"today": today, "day": day, "ids": ids})
    return len(ids), moved.rowcount


def close_day(conn: Connection, day: int, before_ns: int) -> tuple[int, int] | None:
    """Deletes ``day``'s expired instances and drops its rows, in the caller's transaction. Returns
    (instances, rows) removed, or None if an instance of the day ran again since its rows were moved:
    then the caller rolls back, and the next pass moves it. Waits at most a few seconds for the lock the
    drop takes, so reads and ingest queue behind it no longer than that."""
    conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
    gone = conn.execute(text("DELETE FROM container_instances WHERE files_day = :day AND last_seen_ns < :before"),
                        {"day": day, "before": before_ns}).rowcount
    if conn.execute(text("SELECT EXISTS (SELECT FROM container_instances WHERE files_day = :day)"),
                    {"day": day}).scalar_one():
        return None
    table = day_table(day)
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    conn.exec_driver_sql(f"DROP TABLE {table}")
    return gone, rows
