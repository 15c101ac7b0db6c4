from __future__ import annotations

import gc
import os

from fastapi.testclient import TestClient

from snoop.collector.app import YOUNG_OBJECTS, create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.storage.write import ContainerIn, ingest
from snoop.common.file_types import RUNTIME
from tests.collector.conftest import container


def seed(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        ingest(s, [container("c1", files={b"/bin/sh": 4, b"/etc/a.conf": 1, b"/caf\xe9": 1})], now_ns=1)
        ingest(s, [container("c2", node="n2", files={b"/etc/a.conf": 1})], now_ns=2)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json() == {"status": "ready"}
    assert "snoop_ingest_batches" in client.get("/metrics").text


def test_what_start_up_made_is_left_out_of_collections_while_serving(db_url: str) -> None:
    """Frozen as the collector opens (no full collection walks it again), and young objects collected less
    often while it serves; both undone as it stops: a process that starts collectors one after another, as
    this suite does, keeps none of the stopped ones and its own collection thresholds."""
    before = gc.get_threshold()
    with TestClient(create_app(CollectorConfig(db_url=db_url), start_grpc=False)):
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == (YOUNG_OBJECTS, *before[1:])
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_images_list(client: TestClient) -> None:
    seed(client)
    body = client.get("/api/v1/images").json()
    assert body["total"] == 1
    (image,) = body["images"]
    assert image["digest"] == "sha256:aaa"
    assert image["references"] == ["app:1"]
    assert (image["containers"], image["files"]) == (2, 3)
    assert image["first_seen"].endswith("Z") and image["last_seen"]


def test_image_files_merged(client: TestClient) -> None:
    seed(client)
    body = client.get("/api/v1/images/sha256:aaa/files").json()
    assert body["image"]["digest"] == "sha256:aaa"
    assert body["total"] == 3
    by_path = {f["path"]: f for f in body["files"]}
    assert by_path["/etc/a.conf"]["containers"] == 2
    assert by_path["/bin/sh"]["kinds"] == ["exec"]
    assert os.fsencode("/caf\udce9") in {os.fsencode(p) for p in by_path}  # lossless non-UTF-8


def test_image_files_by_reference_and_formats(client: TestClient) -> None:
    seed(client)
    text = client.get("/api/v1/images/app:1/files", params={"format": "text"}).content
    assert text == b"/bin/sh\n/caf\xe9\n/etc/a.conf\n"
    csv = client.get("/api/v1/images/app:1/files", params={"format": "csv", "prefix": "/etc"}).text
    assert csv.splitlines()[0] == "path,containers,kinds,first_seen,last_seen,type,size,package"
    assert csv.splitlines()[1].startswith("/etc/a.conf,2,read,")


def test_image_files_filters_and_pages(client: TestClient) -> None:
    seed(client)
    assert client.get("/api/v1/images/sha256:aaa/files", params={"kind": "exec"}).json()["total"] == 1
    page = client.get("/api/v1/images/sha256:aaa/files", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [f["path"] for f in page["files"]] == ["/caf\udce9"]
    assert client.get("/api/v1/images/sha256:aaa/files", params={"kind": "bogus"}).status_code == 422


def test_unknown_image_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/images/sha256:nope/files")
    assert r.status_code == 404 and "sha256:nope" in r.json()["detail"]


def test_cached_report_follows_every_ingest(client: TestClient) -> None:
    """The second request is served from the report cache; an ingest that changes the image (new file,
    new instance of a known file, new kind) is seen by the very next request."""
    seed(client)
    cache = client.app.state.report_cache  # type: ignore[attr-defined]
    url = "/api/v1/images/sha256:aaa/files"
    first = client.get(url).json()
    assert client.get(url).json() == first and cache.hits >= 2  # rows and their JSON
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    changes = [
        container("c3", node="n3", files={b"/etc/a.conf": 1}),  # a known file, one more instance
        container("c3", node="n3", files={b"/etc/a.conf": 2}),  # the same file, a new kind
        container("c3", node="n3", files={b"/new": 1}),         # a new file
    ]
    for change in changes:
        with sessions.begin() as s:
            ingest(s, [change], now_ns=10)
        body = client.get(url).json()
        assert body != first
        first = body
    by_path = {f["path"]: f for f in first["files"]}
    assert by_path["/etc/a.conf"]["containers"] == 3 and by_path["/etc/a.conf"]["kinds"] == ["read", "write"]
    assert "/new" in by_path
    diff = client.get("/api/v1/diff", params={"base": "sha256:aaa", "head": "sha256:aaa"}).json()
    assert diff["added"] == [] and "/new" in diff["common"]


def test_keep_lists_and_diffs_move_with_a_new_path_or_type_only(client: TestClient) -> None:
    """A new container of known files leaves keep-lists and diffs as they were: served from the cache. A new
    file, or a file retyped out of the keep-list, is in the very next answer; a diff reads again only the side
    that changed, which is the image's keep-list too."""
    seed(client)
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        ingest(s, [container("b1", digest="sha256:bbb", files={b"/bin/sh": 4, b"/opt/b": 1})], now_ns=3)
    cache = client.app.state.report_cache  # type: ignore[attr-defined]

    def answers() -> tuple[bytes, dict]:
        return (client.get("/api/v1/images/sha256:aaa/files", params={"format": "text"}).content,
                client.get("/api/v1/diff", params={"base": "sha256:aaa", "head": "sha256:bbb"}).json())

    def after(change: ContainerIn) -> tuple[bytes, dict, int]:
        """The answers after ``change``, and how many of them (and of the diff's sides) were computed."""
        with sessions.begin() as s:
            ingest(s, [change], now_ns=10)
        misses = cache.misses
        return (*answers(), cache.misses - misses)

    keep, diff = answers()
    assert keep == b"/bin/sh\n/caf\xe9\n/etc/a.conf\n" and diff["added"] == ["/opt/b"]
    assert after(container("c3", node="n3", files={b"/etc/a.conf": 1, b"/bin/sh": 2})) == (keep, diff, 0)
    keep, diff, computed = after(container("c3", node="n3", files={b"/new": 1}))
    assert keep.endswith(b"/new\n") and "/new" in diff["removed"]
    assert computed == 3  # aaa's side (its keep-list too), the comparison and its JSON (not bbb's side)
    keep, diff, computed = after(container("c4", files={b"/new": 1}, types={b"/new": RUNTIME}))
    assert not keep.endswith(b"/new\n") and "/new" not in diff["removed"] and computed == 3


def test_errors_are_pages_for_people_and_json_for_programs(client: TestClient) -> None:
    """A misspelt image in the web view: a page naming the nearest images as links, never raw JSON."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files={b"/bin/sh": 4}, reference="shop/web:1.2")], now_ns=1)
    page = client.get("/images/shop/wbe:1.2", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert 'id="error-detail"' in page.text and '<a href="/images/shop/web:1.2">shop/web:1.2</a>' in page.text
    bad = client.get("/images/shop/web:1.2", params={"offset": "many"}, headers={"accept": "text/html"})
    assert bad.status_code == 422 and "offset" in bad.text and bad.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/images/shop/wbe:1.2/summary")
    assert api.status_code == 404 and "did you mean" in api.json()["detail"]


def test_slim_plan_of_an_image_with_no_used_file_is_a_409(client: TestClient) -> None:
    """Known to the collector, yet its containers touched only what the runtime mounts: nothing to slim from."""
    from snoop.common.file_types import FILE, RUNTIME

    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files={b"/etc/hosts": 1}, types={b"/etc/hosts": RUNTIME})], now_ns=1)
    r = client.get("/api/v1/images/app:1/slim")
    assert r.status_code == 409 and "has used a file yet" in r.json()["detail"]
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c2", files={b"/bin/sh": 4}, types={b"/bin/sh": FILE})], now_ns=2)
    plan = client.get("/api/v1/images/app:1/slim").json()
    assert plan["paths"] == [{"path": "/bin/sh", "type": "file"}] and plan["evidence"]["instances"] == 2
