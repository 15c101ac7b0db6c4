"""Coverage that means something, on both databases: the span watched, a pushed report's own times, the
discovery curve, nodes per path, and one count of used files across the API, the CLI's source and pages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fastapi.testclient import TestClient

from snoop.collector.storage.write import ingest
from snoop.common.file_types import DIR, FILE, SYMLINK
from tests.collector.conftest import container
from tests.collector.test_inventory import chunks_of, put_all, small_image

S = 1_000_000_000
T0 = 1_800_000_000 * S  # a fixed "now" in 2027: times are asserted exactly


def stored(client: TestClient, *containers, now_ns: int) -> None:  # noqa: ANN002
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, list(containers), now_ns=now_ns)


def coverage(client: TestClient, ref: str = "app:1") -> dict:
    return client.get(f"/api/v1/images/{ref}/summary").json()["coverage"]


def test_a_container_watched_from_its_start_is_never_0s_observed(client: TestClient) -> None:
    """Its first batch came a second after it started; no heartbeat yet: one second, not zero."""
    first = dataclasses.replace(container("c1", files={b"/bin/sh": 4}, ts=T0), observed_from_ns=T0)
    stored(client, first, now_ns=T0 + S)
    assert coverage(client)["observed_seconds"] == 1
    stored(client, dataclasses.replace(first, files=()), now_ns=T0 + 60 * S)  # the heartbeat
    assert coverage(client)["observed_seconds"] == 60


def test_observed_is_the_span_watched_and_container_time_adds_up(client: TestClient) -> None:
    """Two containers running side by side for an hour, a third on another node later for ten minutes:
    70 minutes watched, 130 of container time."""
    for cid, node, start, stop in (("a", "n1", 0, 3600), ("b", "n1", 0, 3600), ("c", "n2", 7200, 7800)):
        c = dataclasses.replace(container(cid, node=node, files={b"/bin/sh": 4}, ts=T0 + start * S),
                                observed_from_ns=T0 + start * S)
        stored(client, c, now_ns=T0 + start * S)
        stored(client, dataclasses.replace(c, files=()), now_ns=T0 + stop * S)
    cov = coverage(client)
    assert (cov["instances"], cov["nodes"], cov["observed_seconds"], cov["container_seconds"]) == (3, 2, 4200, 7800)


def test_a_pushed_report_keeps_its_own_times_capped_at_arrival(client: TestClient) -> None:
    """A report of last month: its span, last_seen and retention by its own times; one from a clock
    ahead of the collector's moves nothing past arrival."""
    month_ago = T0 - 30 * 86400 * S
    old = dataclasses.replace(container("old", files={b"/bin/sh": 4}, ts=month_ago),
                              observed_from_ns=month_ago, observed_until_ns=month_ago + 3600 * S)
    stored(client, old, now_ns=T0)
    assert coverage(client)["observed_seconds"] == 3600
    image = client.get("/api/v1/images").json()["images"][0]
    assert image["last_seen"].startswith("2026-12-16T")  # T0 - 30 days + 1 hour, not the arrival in 2027
    files = client.get("/api/v1/images/app:1/files").json()["files"]
    assert files[0]["last_seen"].startswith("2026-12-16T")

    ahead = dataclasses.replace(container("ahead", digest="sha256:bbb", reference="app:2", files={b"/x": 4},
                                          ts=T0 + 3600 * S),
                                observed_from_ns=T0 + 3600 * S, observed_until_ns=T0 + 7200 * S)
    stored(client, ahead, now_ns=T0)
    assert coverage(client, "app:2")["observed_seconds"] == 0
    assert client.get("/api/v1/images/app:2/files").json()["files"][0]["last_seen"] == "2027-01-15T08:00:00.000Z"


def test_the_discovery_curve_and_what_ran_since(client: TestClient) -> None:
    """Files first used at 0, 10 and 100 minutes; containers on two nodes ran on to 160 minutes."""
    minute = 60 * S
    for at, path in ((0, b"/a"), (0, b"/b"), (10, b"/c"), (100, b"/d")):
        c = dataclasses.replace(container("c1", files={path: 4}, ts=T0 + at * minute), observed_from_ns=T0)
        stored(client, c, now_ns=T0 + at * minute)
    stored(client, dataclasses.replace(container("c1", ts=T0), observed_from_ns=T0), now_ns=T0 + 160 * minute)
    stored(client, dataclasses.replace(container("c2", node="node-b", ts=T0 + 130 * minute),
                                       observed_from_ns=T0 + 130 * minute), now_ns=T0 + 160 * minute)
    found = client.get("/api/v1/images/app:1/summary").json()["discovery"]
    counts = [p["files"] for p in found["curve"]]
    assert counts == sorted(counts) and counts[0] == 2 and counts[-1] == 4
    assert found["stable_since"].startswith("2027-01-15T09:40:")  # T0 + 100 minutes
    assert (found["container_hours_since"], found["nodes_since"]) == (1.5, 2)  # 60 + 30 minutes
    page = client.get("/images/app:1").text
    assert 'id="discovery"' in page and "<polyline points=" in page and "1.5 container-hours on 2 nodes" in page


def test_nodes_per_path_in_pages_and_on_the_image_page(client: TestClient) -> None:
    stored(client, container("c1", node="n1", files={b"/common": 4, b"/rare": 4}),
           container("c2", node="n1", files={b"/common": 4}), container("c3", node="n2", files={b"/common": 4}),
           now_ns=T0)
    page = client.get("/api/v1/images/app:1/files", params={"limit": 10}).json()["files"]
    assert {f["path"]: (f["containers"], f["nodes"]) for f in page} == {"/common": (3, 2), "/rare": (1, 1)}
    html = client.get("/images/app:1").text
    assert '<td class="containers">3</td><td class="nodes">2</td>' in html


def test_one_count_of_used_files(client: TestClient, tmp_path: Path) -> None:
    """A directory listed and a file created at run time: the images list says 6 used files, the summary
    5 of the image's and 1 created, the page the same; the directory apart everywhere."""
    put_all(client, chunks_of(small_image(tmp_path / "img")))
    files = {b"/usr/bin/tool": 4, b"/usr/share/doc/a": 1, b"/usr/share/doc/b": 1, b"/etc/conf": 1, b"/bin": 1,
             b"/tmp/scratch": 2, b"/usr/share/doc": 1}
    types = {b"/bin": SYMLINK, b"/usr/share/doc": DIR} | {p: FILE for p in files if p not in (b"/bin",
                                                                                            b"/usr/share/doc")}
    stored(client, container("c1", files=files, types=types), now_ns=T0)
    listed = client.get("/api/v1/images").json()["images"][0]
    summary = client.get("/api/v1/images/app:1/summary").json()
    assert (listed["files"], listed["directories"]) == (6, 1)
    assert (summary["used"]["files"], summary["runtime_created"]["files"]) == (5, 1)
    page = client.get("/images/app:1").text
    assert '<b id="used-files">5</b>' in page and "6 used files in all" in page and "1 directory listed apart" in page
    assert "6 used files" in page.split('id="files"')[1]  # the file table counts the same
