"""Diffs, workloads and pod reports through the REST API, on both databases."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from snoop.collector.storage.write import ingest
from tests.collector.conftest import container


def seed(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    v1 = {b"/bin/app": 4, b"/etc/app.conf": 1, b"/usr/lib/old.so": 1}
    v2 = {b"/bin/app": 4, b"/etc/app.conf": 1, b"/usr/lib/new.so": 1, b"/etc/extra": 8}
    with sessions.begin() as s:
        first = container("c1", digest="sha256:v1", reference="app:1", files=v1, ts=1_000_000_000)
        ingest(s, [first], now_ns=1_000_000_000)
        ingest(s, [container("c2", digest="sha256:v2", reference="app:2", pod="web-6d4cf56db6-bcdfg",
                             files=v2, ts=2_000_000_000)], now_ns=2_000_000_000)
        ingest(s, [container("c3", digest="sha256:v2", reference="app:2", pod="web-6d4cf56db6-fghjk",
                             node="n2", files={b"/bin/app": 4, b"/tmp/x": 2}, ts=3_000_000_000)], now_ns=3_000_000_000)
        ingest(s, [container("c4", digest="sha256:db", reference="db:1", pod="db-0",
                             files={b"/bin/db": 4})], now_ns=3_000_000_000)


def test_diff_between_versions(client: TestClient) -> None:
    seed(client)
    d = client.get("/api/v1/diff", params={"base": "app:1", "head": "sha256:v2"}).json()
    assert (d["base"], d["head"]) == ("sha256:v1", "sha256:v2")
    assert d["added"] == ["/etc/extra", "/tmp/x", "/usr/lib/new.so"]
    assert d["removed"] == ["/usr/lib/old.so"]
    assert d["common"] == ["/bin/app", "/etc/app.conf"]
    text = client.get("/api/v1/diff", params={"base": "app:1", "head": "app:2", "format": "text"}).text
    assert text.splitlines() == ["+ /etc/extra", "+ /tmp/x", "+ /usr/lib/new.so", "- /usr/lib/old.so"]
    csv = client.get("/api/v1/diff", params={"base": "app:1", "head": "app:2", "format": "csv"}).text
    assert "removed,/usr/lib/old.so" in csv.splitlines()


def test_diff_of_unknown_image_names_the_side(client: TestClient) -> None:
    seed(client)
    r = client.get("/api/v1/diff", params={"base": "app:1", "head": "app:9"})
    assert r.status_code == 404 and r.json()["detail"].startswith("head:")


def test_workloads_from_pod_names(client: TestClient) -> None:
    seed(client)
    body = client.get("/api/v1/workloads", params={"namespace": "shop"}).json()
    by_name = {w["name"]: w for w in body["workloads"]}
    assert by_name["web"]["kind"] == "Deployment?" and by_name["web"]["kind_source"] == "pod-name pattern"
    assert by_name["web"]["pods"] == 3 and by_name["web"]["containers"] == 3
    assert by_name["web"]["images"] == ["sha256:v1", "sha256:v2"]
    assert by_name["db"]["kind"] == "StatefulSet?"


def test_workload_files_merged_over_pods(client: TestClient) -> None:
    seed(client)
    body = client.get("/api/v1/workloads/shop/web/files").json()
    by_path = {f["path"]: f for f in body["files"]}
    assert by_path["/bin/app"]["containers"] == 3
    assert by_path["/bin/app"]["kinds"] == ["exec"]
    assert body["total"] == 6
    only_writes = client.get("/api/v1/workloads/shop/web/files", params={"kind": "write"}).json()
    assert [f["path"] for f in only_writes["files"]] == ["/tmp/x"]
    recent = client.get("/api/v1/workloads/shop/web/files",
                        params={"since": "1970-01-01T00:00:02Z", "format": "text"}).text
    assert "/usr/lib/old.so" not in recent and "/usr/lib/new.so" in recent
    assert client.get("/api/v1/workloads/shop/nope/files").status_code == 404


def test_pod_report_in_seed_format(client: TestClient) -> None:
    seed(client)
    report = client.get("/api/v1/pods/shop/db-0/report").json()
    assert list(report) == ["pod_name", "namespace", "node", "started_at", "last_updated_at", "containers",
                            "total_events", "dropped_events"]
    (c,) = report["containers"]
    assert list(c) == ["name", "container_id", "image", "image_digest", "cgroup_id", "cgroup_path", "files",
                       "total_events", "unique_files", "directories", "runtime_provided", "missing"]
    assert (c["files"], c["unique_files"], c["image_digest"]) == (["/bin/db"], 1, "sha256:db")
    assert report["started_at"].endswith("Z")
    assert client.get("/api/v1/pods/shop/ghost/report").status_code == 404


def test_images_filtered_by_namespace_and_since(client: TestClient) -> None:
    seed(client)
    assert client.get("/api/v1/images", params={"namespace": "other"}).json()["total"] == 0
    recent = client.get("/api/v1/images", params={"since": "1970-01-01T00:00:02.5Z"}).json()
    assert {i["digest"] for i in recent["images"]} == {"sha256:v2", "sha256:db"}


def api_routes(routes: list, prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through the routers the app includes."""
    out = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append((prefix + r.path, r))
        elif hasattr(r, "original_router"):  # an included router (FastAPI keeps its own routes apart)
            out += api_routes(r.original_router.routes, prefix + r.include_context.prefix)
    return out


def test_openapi_documents_every_route(client: TestClient) -> None:
    """Every route of the REST API, with each of its methods, is in the OpenAPI document."""
    routes = api_routes(client.app.routes)  # type: ignore[attr-defined]
    served = {(re.sub(r":\w+}", "}", path), method.lower()) for path, route in routes
              if path.startswith("/api/") for method in route.methods or ()}
    documented = {(path, method) for path, methods in client.get("/openapi.json").json()["paths"].items()
                  for method in methods}
    assert served == documented and len(served) >= 14
    assert client.get("/docs").status_code == 200


def test_a_bare_pod_is_a_guess_unless_owner_data_says_so(client: TestClient) -> None:
    """A pod name that fits no controller's pattern is guessed to be a bare pod, and said to be a guess."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c9", pod="debug", files={b"/bin/sh": 4})], now_ns=1)
    (debug,) = [w for w in client.get("/api/v1/workloads").json()["workloads"] if w["name"] == "debug"]
    assert (debug["kind"], debug["kind_source"]) == ("Pod?", "pod-name pattern")
