"""Retention on both databases: expired instances and images go, a retained image's reports stay exactly
as they were, and ingest goes on while retention runs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from snoop.collector.grpc.inventory import single_writer_lock
from snoop.collector.storage.models import ContainerInstance, Image, InstanceFile, Inventory, InventoryFile, Package
from snoop.collector.storage.retention import Retention
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container
from tests.collector.test_inventory import put_all, small_image

DAY = 86400 * 10**9
NOW = 400 * DAY


def retention(client: TestClient, instances_days: float = 30, images_days: float = 90) -> Retention:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    return Retention(sessions, retain_instances_s=instances_days * 86400, retain_images_s=images_days * 86400,
                     write_lock=single_writer_lock(sessions))


def seen(client: TestClient, cid: str, digest: str, files: dict[bytes, int], day: int) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container(cid, digest=digest, files=files)], now_ns=day * DAY)


def count(client: TestClient, table: type) -> int:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_old_instances_go_and_their_image_keeps_its_report(client: TestClient) -> None:
    seen(client, "old", "sha256:kept", {b"/bin/old": 4, b"/etc/shared": 1}, day=300)   # 100 days ago
    seen(client, "new", "sha256:kept", {b"/bin/new": 4, b"/etc/shared": 1}, day=395)   # 5 days ago
    before = client.get("/api/v1/images/sha256:kept/files").json()["files"]
    removed = retention(client).run_once(now_ns=NOW)
    assert (removed.instances, removed.instance_files, removed.images) == (1, 2, 0)
    after = client.get("/api/v1/images/sha256:kept/files").json()["files"]
    assert after == before  # the merge keeps what the gone instance contributed, counts included
    assert {f["path"]: f["containers"] for f in after}["/etc/shared"] == 2
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert list(s.scalars(select(ContainerInstance.container_id))) == ["new"]
    assert count(client, InstanceFile) == 2


def test_what_is_counted_over_instances_follows_retention(client: TestClient) -> None:
    """An image's containers and a page's nodes are counted over the instances kept: a page served from memory
    shows the instances retention removed gone at the very next request."""
    for cid, node, day in (("old", "node-a", 300), ("new", "node-b", 395)):
        with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
            ingest(s, [container(cid, node=node, digest="sha256:kept", files={b"/bin/app": 4})], now_ns=day * DAY)
    url, page = "/api/v1/images/sha256:kept/files", {"limit": 10}
    before = client.get(url, params=page).json()
    assert (before["image"]["containers"], before["files"][0]["nodes"]) == (2, 2)
    assert client.get(url, params=page).json() == before  # from memory
    assert retention(client).run_once(now_ns=NOW).instances == 1
    after = client.get(url, params=page).json()
    assert (after["image"]["containers"], after["files"][0]["nodes"]) == (1, 1)
    assert after["files"][0]["containers"] == 2  # the merge keeps what the gone instance used


def test_old_images_go_with_everything_of_theirs(client: TestClient, tmp_path: Path) -> None:
    seen(client, "c1", "sha256:gone", {b"/usr/bin/tool": 4}, day=200)
    upload = Upload("node-a/inventory", "sha256:gone", "app:gone", "layers")
    put_all(client, list(inventory_chunks(ImageTree([os.fsencode(small_image(tmp_path / "img"))]), upload)))
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        s.execute(update(Image).values(last_seen_ns=200 * DAY))
    seen(client, "c2", "sha256:kept", {b"/bin/sh": 4}, day=399)
    removed = retention(client).run_once(now_ns=NOW)
    assert removed.images == 1
    assert client.get("/api/v1/images/sha256:gone/files").status_code == 404
    for table in (Inventory, InventoryFile, Package):
        assert count(client, table) == 0
    assert [i["digest"] for i in client.get("/api/v1/images").json()["images"]] == ["sha256:kept"]


def test_zero_keeps_everything(client: TestClient) -> None:
    seen(client, "ancient", "sha256:old", {b"/bin/x": 4}, day=1)
    removed = retention(client, instances_days=0, images_days=0).run_once(now_ns=NOW)
    assert (removed.instances, removed.images) == (0, 0) and count(client, ContainerInstance) == 1


def test_ingest_goes_on_while_retention_runs(client: TestClient) -> None:
    for i in range(120):  # 120 old instances: three transactions of retention
        seen(client, f"old{i}", "sha256:busy", {b"/lib/%d.so" % n: 1 for n in range(20)}, day=100)
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        s.execute(update(Image).values(last_seen_ns=399 * DAY))  # the image runs on: its old instances expire
    errors: list[BaseException] = []

    def keep_ingesting() -> None:
        try:
            for i in range(60):
                seen(client, f"live{i}", "sha256:busy", {b"/app/%d" % i: 1, b"/lib/1.so": 1}, day=399)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writer = threading.Thread(target=keep_ingesting)
    writer.start()
    removed = retention(client).run_once(now_ns=NOW)
    writer.join()
    assert errors == []
    assert removed.instances == 120
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        live = set(s.scalars(select(ContainerInstance.container_id)))
    assert live == {f"live{i}" for i in range(60)}
    files = {f["path"]: f["containers"] for f in client.get("/api/v1/images/sha256:busy/files").json()["files"]}
    assert files["/lib/1.so"] == 180 and len(files) == 20 + 60  # every contribution kept
