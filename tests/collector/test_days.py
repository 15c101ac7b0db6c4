"""Instance files filed by day (0009). On PostgreSQL retention drops a day's partition whole: instances still
running move their rows to today first, so their reports stay whole; SQLite deletes rows. Both keep the same
reports."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.days import day_table, expire_day, filed_days, move_running
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.dialect import dialect_of
from snoop.collector.storage.migrate import alembic_config, upgrade
from snoop.collector.storage.models import ContainerInstance, InstanceFile
from snoop.collector.storage.retention import Retention
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container
from tests.collector.test_retention import DAY, NOW, retention
from tests.harness.postgres import Postgres

BEFORE = NOW - 30 * DAY  # what a 30-day retention keeps at NOW


def pod_files(client: TestClient, pod: str) -> list[str]:
    (report,) = client.get(f"/api/v1/pods/shop/{pod}/report").json()["containers"]
    return report["files"]


def seen(sessions: sessionmaker[Session], cid: str, files: dict[bytes, int], day: int) -> None:
    with sessions.begin() as s:
        ingest(s, [container(cid, pod=f"pod-{cid}", files=files)], now_ns=day * DAY)


def test_a_running_instance_keeps_its_files_when_its_first_day_goes(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    seen(sessions, "daemon", {b"/bin/daemon": 4, b"/etc/daemon.conf": 1}, day=300)  # runs since day 300
    seen(sessions, "daemon", {}, day=399)                                            # still running
    seen(sessions, "job", {b"/bin/job": 4}, day=300)                                 # ran once
    removed = retention(client).run_once(now_ns=NOW)
    assert (removed.instances, removed.instance_files) == (1, 1)  # the job, with its one file
    assert pod_files(client, "pod-daemon") == ["/bin/daemon", "/etc/daemon.conf"]
    assert client.get("/api/v1/pods/shop/pod-job/report").status_code == 404
    seen(sessions, "daemon", {b"/lib/late.so": 1}, day=400)  # files after the move join the moved ones
    assert pod_files(client, "pod-daemon") == ["/bin/daemon", "/etc/daemon.conf", "/lib/late.so"]
    assert {f["path"]: f["containers"] for f in client.get("/api/v1/images/sha256:aaa/files").json()["files"]} == {
        "/bin/daemon": 1, "/etc/daemon.conf": 1, "/bin/job": 1, "/lib/late.so": 1}  # the merge keeps the job's


@pytest.fixture
def pg(postgres: Postgres) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def days(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as s:
        return filed_days(s.connection())


def files_by_day(sessions: sessionmaker[Session]) -> dict[tuple[str, int], int]:
    with sessions() as s:
        return dict(((cid, day), n) for cid, day, n in s.execute(
            select(ContainerInstance.container_id, InstanceFile.day, func.count())
            .join(InstanceFile, InstanceFile.of(ContainerInstance)).group_by(ContainerInstance.container_id,
                                                                             InstanceFile.day)))


def test_postgres_drops_a_day_whole_after_moving_what_still_runs(pg: sessionmaker[Session]) -> None:
    seen(pg, "daemon", {b"/bin/daemon": 4, b"/etc/daemon.conf": 1}, day=300)
    seen(pg, "job", {b"/bin/job": 4}, day=300)
    seen(pg, "recent", {b"/bin/recent": 4}, day=395)
    seen(pg, "daemon", {b"/bin/daemon": 4}, day=399)  # a replay: filed under its day, 300
    assert days(pg) == [300, 395]
    removed = Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0,
                        write_lock=contextlib.nullcontext()).run_once(now_ns=NOW)
    assert (removed.instances, removed.instance_files) == (1, 1)
    assert days(pg) == [395, 399]  # the daemon's rows went to the day it was last seen
    assert files_by_day(pg) == {("daemon", 399): 2, ("recent", 395): 1}
    with pg() as s:
        assert s.scalar(text("SELECT to_regclass(:t)"), {"t": day_table(300)}) is None


def test_postgres_removes_a_moved_instance_within_a_day_of_its_expiry(pg: sessionmaker[Session]) -> None:
    """Moved to the day it was last seen, an instance that stops then goes with that day: not a whole
    retention period later, as it would if it had moved to the day of the move."""
    seen(pg, "stopping", {b"/bin/s": 4}, day=300)
    seen(pg, "stopping", {}, day=371)  # last seen on day 371: expires on day 401 with 30 days kept
    retain = Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0, write_lock=contextlib.nullcontext())
    assert retain.run_once(now_ns=NOW).instances == 0 and days(pg) == [371]  # moved on
    assert retain.run_once(now_ns=NOW + 2 * DAY).instances == 1 and days(pg) == []


def test_postgres_keeps_a_day_whose_instance_ran_again_while_it_closed(pg: sessionmaker[Session]) -> None:
    seen(pg, "a", {b"/bin/a": 4}, day=300)
    seen(pg, "b", {b"/bin/b": 4}, day=300)
    with pg.begin() as s:
        assert move_running(s.connection(), 300, BEFORE, 50) == (0, 0)  # both had expired
    with pg.begin() as s:  # then an agent that was cut off for a month reports "a" again
        s.execute(update(ContainerInstance).where(ContainerInstance.container_id == "a").values(last_seen_ns=NOW))
    with pg() as s:
        assert expire_day(s.connection(), 300, BEFORE) is None
        s.rollback()
    assert days(pg) == [300] and set(files_by_day(pg)) == {("a", 300), ("b", 300)}
    removed = Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0,
                        write_lock=contextlib.nullcontext()).run_once(now_ns=NOW)  # the next pass
    assert removed.instances == 1 and days(pg) == [400] and files_by_day(pg) == {("a", 400): 1}


def test_postgres_ingest_and_a_closing_day_meet_without_loss(pg: sessionmaker[Session]) -> None:
    """Agents keep sending files of a running instance filed under a day that retention is closing: every
    file lands in a day that stays."""
    seen(pg, "daemon", {b"/bin/daemon": 4}, day=300)
    seen(pg, "daemon", {}, day=399)  # running
    for i in range(100):
        seen(pg, f"job{i}", {b"/bin/job": 4}, day=300)
    sent: list[bytes] = [b"/bin/daemon"]

    def keep_sending() -> None:
        for i in range(40):
            path = b"/var/data/%d" % i
            seen(pg, "daemon", {path: 2}, day=400)
            sent.append(path)

    writer = threading.Thread(target=keep_sending)
    writer.start()
    Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0,
              write_lock=contextlib.nullcontext()).run_once(now_ns=NOW)
    writer.join()
    Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0,
              write_lock=contextlib.nullcontext()).run_once(now_ns=NOW)
    (day,) = days(pg)  # the day the daemon was last seen when its rows moved: 399, or 400 if a send came first
    assert files_by_day(pg) == {("daemon", day): len(sent)}


def test_rows_stored_before_0009_are_filed_under_day_zero_and_go_by_the_rules(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0008")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO images (id, digest, first_seen_ns, last_seen_ns) "
                                "VALUES (1, 'sha256:a', 1, 1)"))
        for n, (cid, last_day) in enumerate((("running", 399), ("gone", 300)), start=1):
            connection.execute(text(
                "INSERT INTO container_instances (id, node, container_id, name, namespace, pod, pod_uid, image_id, "
                "image_reference, cgroup_id, cgroup_path, workload_kind, workload_name, started_at_ns, first_seen_ns, "
                "last_seen_ns, total_events, dropped_events) VALUES (:n, 'node', :cid, 'app', 'shop', :cid, 'u', 1, "
                "'app:1', 7, '/x', '', '', 1, 1, :last, 1, 0)"), {"n": n, "cid": cid, "last": last_day * DAY})
            connection.execute(text("INSERT INTO paths (id, digest, path) VALUES (:n, :d, :p)"),
                               {"n": n, "d": bytes([n]) * 32, "p": b"/bin/" + cid.encode()})
            connection.execute(text("INSERT INTO instance_files (instance_id, path_id, kinds, first_seen_ns, "
                                    "last_seen_ns, file_type) VALUES (:n, :n, 4, 1, 1, 1)"), {"n": n})
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    assert files_by_day(sessions) == {("running", 0): 1, ("gone", 0): 1}
    partitioned = dialect_of(engine).files_by_day
    if partitioned:
        assert days(sessions) == [0]
    removed = Retention(sessions, retain_instances_s=30 * 86400, retain_images_s=0,
                        write_lock=contextlib.nullcontext()).run_once(now_ns=NOW)
    assert removed.instances == 1
    assert files_by_day(sessions) == {("running", 399 if partitioned else 0): 1}
    if partitioned:
        assert days(sessions) == [399]
    engine.dispose()


def test_the_downgrade_gives_back_one_table_with_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    seen(sessions, "a", {b"/bin/a": 4, b"/etc/a": 1}, day=300)
    seen(sessions, "b", {b"/bin/b": 4}, day=301)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM instance_files")).scalar_one() == 3
        if engine.dialect.name == "postgresql":
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'instance_files'")).scalar() == "r"
    upgrade(engine)  # and up again
    assert files_by_day(sessions) == {("a", 0): 2, ("b", 0): 1}
    engine.dispose()


def test_postgres_leaves_a_day_a_long_read_holds_for_the_next_pass(pg: sessionmaker[Session],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The drop waits a bounded time behind a read (ingest queues behind the drop meanwhile), then gives up
    for this pass: nothing is lost, and the next pass drops the day."""
    monkeypatch.setattr("snoop.collector.storage.days.DROP_WAIT", "200ms")
    seen(pg, "job", {b"/bin/job": 4}, day=300)
    retain = Retention(pg, retain_instances_s=30 * 86400, retain_images_s=0, write_lock=contextlib.nullcontext())
    with pg() as reader:
        reader.execute(select(func.count()).select_from(InstanceFile)).scalar()  # a report still reading
        assert retain.run_once(now_ns=NOW).instances == 0
        assert days(pg) == [300] and files_by_day(pg) == {("job", 300): 1}
    assert retain.run_once(now_ns=NOW).instances == 1 and days(pg) == []
