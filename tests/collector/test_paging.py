"""Pages come from the database and agree with the whole report; concurrent misses compute once."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from snoop.collector.reports.cache import ReportCache
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container


def test_pages_agree_with_the_whole_report(client: TestClient) -> None:
    files = {b"/f/%05d" % i: 1 for i in range(0, 3000, 7)} | {b"/caf\xe9": 2, b"/a": 4}
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files=files)], now_ns=1)
    whole = client.get("/api/v1/images/app:1/files").json()
    assert whole["total"] == len(files)
    paged: list[dict] = []
    for offset in range(0, len(files), 100):
        page = client.get("/api/v1/images/app:1/files", params={"limit": 100, "offset": offset}).json()
        assert page["total"] == len(files)
        paged += page["files"]
    assert {f.pop("nodes") for f in paged} == {1}  # a page says on how many nodes; the whole report does not
    assert paged == whole["files"]
    text = client.get("/api/v1/images/app:1/files", params={"limit": 3, "format": "text"}).content
    assert text.splitlines() == [b"/a", b"/caf\xe9", b"/f/00000"]
    wl = client.get("/api/v1/workloads/shop/web/files", params={"limit": 5, "offset": 2, "prefix": "/f/"}).json()
    assert [f["path"] for f in wl["files"]] == [p["path"] for p in whole["files"] if p["path"].startswith("/f/")][2:7]
    assert wl["total"] == len(files) - 2


def test_a_page_counts_the_nodes_each_path_was_used_on(client: TestClient) -> None:
    """Per path of a page, how many nodes ran a container that used it: kept apart for paths that share
    their first 256 bytes, and for a filtered page whose rows lie far apart in path order."""
    long = b"/" + b"d" * 300
    everywhere = {b"/bin/sh": 1, long + b"/a": 1, b"/etc/conf": 2}
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", node="n1", files=everywhere | {b"/only/n1": 1})], now_ns=1)
        ingest(s, [container("c2", node="n2", files=everywhere | {long + b"/b": 1})], now_ns=1)
        ingest(s, [container("c3", node="n2", files={b"/only/n1": 2} | {long + b"/b": 1})], now_ns=1)
    page = client.get("/api/v1/images/app:1/files", params={"limit": 10}).json()
    assert {f["path"]: f["nodes"] for f in page["files"]} == {
        "/bin/sh": 2, long.decode() + "/a": 2, long.decode() + "/b": 1, "/etc/conf": 2, "/only/n1": 2}
    writes = client.get("/api/v1/images/app:1/files", params={"limit": 10, "kind": "write"}).json()
    assert {f["path"]: f["nodes"] for f in writes["files"]} == {"/etc/conf": 2, "/only/n1": 2}
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c4", node="n3", files={b"/bin/sh": 1})], now_ns=2)
    again = client.get("/api/v1/images/app:1/files", params={"limit": 10}).json()  # kept only while unchanged
    assert {f["path"]: f["nodes"] for f in again["files"]}["/bin/sh"] == 3


def test_concurrent_misses_compute_once() -> None:
    cache = ReportCache()
    calls = 0
    lock = threading.Lock()

    def compute() -> bytes:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.2)
        return b"report"

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda _: cache.get(("json", 1), (1,), compute), range(24)))
    assert results == [b"report"] * 24 and calls == 1
    assert cache.get(("json", 1), (2,), compute) == b"report" and calls == 2  # a new stamp recomputes


LONG = b"/opt/" + b"d" * 300  # longer than an index key (PATH_KEY_BYTES): order decided past the key


def _walk(client: TestClient, url: str, limit: int, between: list[dict[bytes, int]] | None = None) -> list[str]:
    """Every page of ``url`` by its ``next`` cursor; ``between[i]`` is ingested after page i."""
    seen: list[str] = []
    params: dict = {"limit": limit}
    for i in range(10_000):
        r = client.get(url, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [f["path"] for f in body["files"]]
        if body["next"] is None:
            assert "link" not in r.headers
            return seen
        assert r.headers["link"].endswith('rel="next"') and f"after={body['next']}" in r.headers["link"]
        params = {"limit": limit, "after": body["next"]}
        if between and i < len(between):
            with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
                ingest(s, [container(f"late{i}", node=f"n{i}", files=between[i])], now_ns=5)
    raise AssertionError("the pages never ended")


def test_keyset_pages_stay_exact_while_ingest_goes_on(client: TestClient) -> None:
    """Pages by ``after`` list every file once, in byte order, when files arrive between pages: those
    before the cursor wait for the next walk, those after it appear. Paths that share their first 256
    bytes (the index key) are ordered by the rest, across page ends too."""
    # Written longest first, so that the order of ids is not the order of paths.
    files = {LONG + b"/z": 1, LONG + b"/b": 1, LONG + b"/a": 1, LONG: 1, LONG[:255]: 1, LONG[:256]: 1,
             LONG[:257]: 1, b"/caf\xe9": 2} | {b"/f/%04d" % i: 1 for i in range(0, 100, 3)}
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files=files)], now_ns=1)
    url = "/api/v1/images/app:1/files"
    in_order = [os.fsdecode(p) for p in sorted(files)]
    assert [f["path"] for f in client.get(url).json()["files"]] == in_order
    assert client.get(url, params={"format": "text"}).content == b"".join(p + b"\n" for p in sorted(files))
    for limit in (1, 2, 3, 7):
        assert _walk(client, url, limit) == in_order

    late = [{b"/a-before-every-cursor": 1}, {b"/zz-after": 1}, {LONG + b"/y": 1, LONG + b"/0": 1}]
    walked = _walk(client, url, 3, between=late)
    assert walked == sorted(set(walked), key=os.fsencode)  # in order, nothing twice
    assert set(in_order) <= set(walked)
    assert "/zz-after" in walked and "/a-before-every-cursor" not in walked
    assert os.fsdecode(LONG + b"/y") in walked  # after the page that ended in the long paths
    assert set(_walk(client, url, 4)) == set(walked) | {"/a-before-every-cursor", os.fsdecode(LONG + b"/0")}


def test_long_prefixes_and_bad_cursors(client: TestClient) -> None:
    files = {LONG + b"/a": 1, LONG + b"/b": 1, LONG[:-1] + b"e/x": 1, b"/etc/x": 1}
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files=files)], now_ns=1)
    url = "/api/v1/images/app:1/files"
    under = client.get(url, params={"prefix": os.fsdecode(LONG + b"/"), "format": "text"}).content
    assert under.splitlines() == [LONG + b"/a", LONG + b"/b"]
    assert client.get(url, params={"prefix": os.fsdecode(LONG + b"/"), "limit": 1}).json()["total"] == 2
    assert client.get(url, params={"limit": 1, "after": "not base64!"}).status_code == 422
    assert client.get(url, params={"limit": 1, "after": "L2E", "offset": 1}).status_code == 422


def test_diff_orders_long_paths(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files={LONG + b"/z": 1, LONG + b"/a": 1, b"/both": 1})], now_ns=1)
        ingest(s, [container("c2", digest="sha256:bbb", reference="app:2",
                             files={b"/both": 1, LONG + b"/y": 1, LONG + b"/b": 1})], now_ns=2)
    diff = client.get("/api/v1/diff", params={"base": "app:1", "head": "app:2"}).json()
    assert diff["added"] == [os.fsdecode(LONG + b"/b"), os.fsdecode(LONG + b"/y")]
    assert diff["removed"] == [os.fsdecode(LONG + b"/a"), os.fsdecode(LONG + b"/z")]
    assert diff["common"] == ["/both"]
