"""Pages come from the database and agree with the whole report; concurrent misses compute once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from collector.reports.cache import ReportCache
from collector.storage.ingest import ingest
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
    assert paged == whole["files"]
    text = client.get("/api/v1/images/app:1/files", params={"limit": 3, "format": "text"}).content
    assert text.splitlines() == [b"/a", b"/caf\xe9", b"/f/00000"]
    wl = client.get("/api/v1/workloads/shop/web/files", params={"limit": 5, "offset": 2, "prefix": "/f/"}).json()
    assert [f["path"] for f in wl["files"]] == [p["path"] for p in whole["files"] if p["path"].startswith("/f/")][2:7]
    assert wl["total"] == len(files) - 2


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
