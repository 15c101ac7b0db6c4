"""The query commands' client, looked at from inside: what it asks a collector, how it prints the answer, and
the one line it says when the collector says no. The collector here is a stand-in HTTP server that records
requests and answers canned bodies (the commands against a real collector are in test_push_and_query)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from snoop.cli.query import QueryError, Server, diff, files, images, since_param
from tests.conftest import free_port

IMAGE = {"digest": "sha256:" + "a" * 64, "references": ["shop/web:1"], "containers": 3, "files": 120,
         "used_bytes": 3 * 2**20, "bytes": 40 * 2**20, "last_seen": "2026-12-01T10:00:00.000Z"}
ANSWERS: dict[str, tuple[int, bytes]] = {
    "/api/v1/images": (200, json.dumps({"images": [IMAGE], "total": 1}).encode()),
    "/api/v1/diff": (200, json.dumps({"base": "app:1", "head": "app:2", "added": ["/new"], "removed": ["/old", "/gone"],
                                      "common": ["/bin/sh"]}).encode()),
    "/api/v1/images/app:1/files": (200, json.dumps({"files": [
        {"path": "/bin/sh", "type": "file", "containers": 3, "nodes": 2, "kinds": ["read", "exec"], "size": 1024,
         "package": "busybox"}]}).encode()),
    "/api/v1/images/nosuch/files": (404, json.dumps({"detail": "no image nosuch; did you mean app:1?"}).encode()),
}


@pytest.fixture
def collector() -> Iterator[tuple[Server, list[tuple[str, dict, str]]]]:
    asked: list[tuple[str, dict, str]] = []  # (path, query, Authorization)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            asked.append((url.path, parse_qs(url.query), self.headers.get("Authorization", "")))
            code, body = ANSWERS.get(url.path, (404, b'{"detail": "not found"}'))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{port}/", token="s3cret"), asked
    server.shutdown()
    server.server_close()


def test_images_as_a_table_csv_and_yaml(collector: tuple[Server, list]) -> None:
    server, asked = collector
    shown = images(server, "table", "shop", None, 5).decode().splitlines()
    assert shown[0].split() == ["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "USED", "SIZE", "LAST", "SEEN"]
    assert shown[1].split()[:4] == [IMAGE["digest"], "shop/web:1", "3", "120"]
    assert asked[-1] == ("/api/v1/images", {"namespace": ["shop"], "limit": ["5"]}, "Bearer s3cret")
    csv_rows = images(server, "csv", None, None, None).decode().splitlines()
    assert csv_rows[0] == "digest,references,containers,files,used_bytes,bytes,last_seen"
    assert csv_rows[1].split(",")[4:6] == [str(3 * 2**20), str(40 * 2**20)]  # raw figures, not rounded
    assert yaml.safe_load(images(server, "yaml", None, None, None))["images"][0] == IMAGE


def test_a_page_of_files_shows_its_nodes(collector: tuple[Server, list]) -> None:
    server, asked = collector
    shown = files(server, "app:1", "table", "/bin", ["exec"], None, 10).decode().splitlines()
    assert shown[0].split() == ["PATH", "TYPE", "CONTAINERS", "NODES", "KINDS", "SIZE", "PACKAGE"]
    assert shown[1].split()[:5] == ["/bin/sh", "file", "3", "2", "read,exec"]
    assert asked[-1][1] == {"format": ["json"], "kind": ["exec"], "prefix": ["/bin"], "limit": ["10"]}


def test_the_diff_counts_what_head_adds(collector: tuple[Server, list]) -> None:
    server, _ = collector
    text, added = diff(server, "app:1", "app:2", "table")
    assert added == 1
    assert text.decode().splitlines() == ["base app:1", "head app:2", "+ /new", "- /old", "- /gone",
                                          "1 added, 2 removed, 1 common"]


def test_what_the_collector_refuses_is_one_line_with_its_reason(collector: tuple[Server, list]) -> None:
    server, _ = collector
    with pytest.raises(QueryError, match=r"^404: no image nosuch; did you mean app:1\?$"):
        files(server, "nosuch", "table", None, [], None, None)
    with pytest.raises(QueryError, match="cannot reach the collector at http://127.0.0.1:1"):
        images(Server("http://127.0.0.1:1"), "table", None, None, None)


def test_since_is_a_duration_ago_or_a_time() -> None:
    assert since_param("2026-01-31T00:00") == "2026-01-31T00:00"
    assert since_param(None) is None
    assert since_param("1h") is not None and since_param("1h") < since_param("1m")  # type: ignore[operator]
    with pytest.raises(QueryError, match="--since 'yesterday'"):
        since_param("yesterday")
