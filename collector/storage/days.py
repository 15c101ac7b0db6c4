"""PostgreSQL's partitions of ``instance_files``, one per day (0009): retention drops a day's rows whole, so
a big cluster's churn (hundreds of millions of rows a day) costs a catalog change instead of row deletes,
their WAL and the bloat vacuum must chase.

Every container instance files its rows under its ``files_day``. A day is closed, once all of it is older
than the retention, in three steps: the instances still running move their rows to the day they were last
seen (a few at a time, each under its row lock, so ingest never writes to a day being closed), the expired
ones are deleted (``expire_day``), and the day's partition is dropped in that same transaction (``drop_day``),
so an instance revived meanwhile keeps its day. So an instance goes at most a day after it expires, and one
that runs for months moves once per retention period.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import Connection, text

from snoop.collector.storage.models import day_of

PARTITION_LOCK = 0x736E6F6F72  # replicas opening the same day take turns
DROP_WAIT = "5s"  # the longest a day's drop waits behind a read: ingest and reads queue behind it meanwhile
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


def move_running(conn: Connection, day: int, before_ns: int, batch: int) -> tuple[int, int]:
    """Up to ``batch`` of ``day``'s instances seen since ``before_ns`` move their rows to the day they were
    last seen: the day that expires with them if they are not seen again. Returns (instances, rows) moved;
    (0, 0) when none is left."""
    found = conn.execute(text(
        "SELECT id, last_seen_ns FROM container_instances WHERE files_day = :day AND last_seen_ns >= :before "
        "ORDER BY id LIMIT :n FOR UPDATE"), {"day": day, "before": before_ns, "n": batch}).all()
    if not found:
        return 0, 0
    ids, days = [i for i, _ in found], [day_of(last) for _, last in found]
    for new_day in set(days):
        open_day(conn, new_day)
    conn.execute(text("UPDATE container_instances c SET files_day = m.day "
                      "FROM unnest(CAST(:ids AS int[]), CAST(:days AS int[])) AS m(id, day) WHERE c.id = m.id"),
                 {"ids": ids, "days": days})
    moved = conn.execute(text("UPDATE instance_files f SET day = c.files_day FROM container_instances c "
                              "WHERE f.day = :day AND f.instance_id = c.id AND c.id = ANY(:ids)"),
                         {"day": day, "ids": ids})
    return len(ids), moved.rowcount


def expire_day(conn: Connection, day: int, before_ns: int) -> list[tuple[int, str]] | None:
    """Deletes ``day``'s expired instances, in the caller's transaction, before ``drop_day``. Returns the
    (image, node) of each, or None if an instance of the day ran again since its rows were moved: then the
    caller rolls back, and the next pass moves it. Lock waits from here to the drop last a few seconds at
    most, so reads and ingest queue behind the drop no longer than that."""
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{DROP_WAIT}'")
    gone = [(image_id, node) for image_id, node in conn.execute(text(
        "DELETE FROM container_instances WHERE files_day = :day AND last_seen_ns < :before RETURNING image_id, node"),
        {"day": day, "before": before_ns})]
    if conn.execute(text("SELECT EXISTS (SELECT FROM container_instances WHERE files_day = :day)"),
                    {"day": day}).scalar_one():
        return None
    return gone


def drop_day(conn: Connection, day: int) -> int:
    """Drops ``day``'s rows, which no instance owns any more (``expire_day``): how many there were."""
    table = day_table(day)
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    conn.exec_driver_sql(f"DROP TABLE {table}")
    return rows
