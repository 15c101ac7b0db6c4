"""The query commands' client, looked at from inside: what it asks a real collector (a `snoop collector` process
on a SQLite file, with a token), how it prints the answer, and the one line it says when the collector says no.
(The commands as users run them are in test_push_and_query.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from snoop.cli.query import QueryError, Server, diff, files, images, since_param
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container
from tests.conftest import Process, free_port, wait_http

R, X = 1, 4  # read, exec


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path}/snoop.db"
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as s:
        ingest(s, [container("c1", node="n1", digest="sha256:" + "1" * 64, reference="app:1",
                             files={b"/bin/sh": R | X, b"/etc/old": R})], now_ns=1_000)
        ingest(s, [container("c2", node="n2", digest="sha256:" + "2" * 64, reference="app:2",
                             files={b"/bin/sh": X, b"/etc/new": R})], now_ns=2_000)
        ingest(s, [container("c3", node="n3", digest="sha256:" + "2" * 64, reference="app:2",
                             files={b"/bin/sh": X})], now_ns=3_000)
    engine.dispose()
    http = free_port()
    proc = Process(["collector", "--db", url, "--http-listen", f"127.0.0.1:{http}", "--grpc-listen",
                    f"127.0.0.1:{free_port()}", "--token", "s3cret"], tmp_path / "collector.log")
    try:
        wait_http(f"http://127.0.0.1:{http}/healthz", proc=proc.proc)
        yield Server(f"http://127.0.0.1:{http}/", token="s3cret")
    finally:
        proc.stop()


def test_images_as_a_table_csv_and_yaml(collector: Server) -> None:
    shown = images(collector, "table", "shop", None, 5).decode().splitlines()
    assert shown[0].split() == ["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "USED", "SIZE", "LAST", "SEEN"]
    assert [line.split()[:4] for line in shown[1:]] == [["sha256:" + "2" * 64, "app:2", "2", "2"],
                                                        ["sha256:" + "1" * 64, "app:1", "1", "2"]]
    assert images(collector, "table", "elsewhere", None, None).decode().splitlines()[1:] == []  # the namespace asked
    csv_rows = images(collector, "csv", None, None, 1).decode().splitlines()
    assert csv_rows[0] == "digest,references,containers,files,used_bytes,bytes,last_seen" and len(csv_rows) == 2
    assert [i["references"] for i in yaml.safe_load(images(collector, "yaml", None, None, None))["images"]] == [
        ["app:2"], ["app:1"]]


def test_a_page_of_files_shows_its_nodes(collector: Server) -> None:
    shown = files(collector, "app:2", "table", "/bin", ["exec"], None, 10).decode().splitlines()
    assert shown[0].split() == ["PATH", "TYPE", "CONTAINERS", "NODES", "KINDS", "SIZE", "PACKAGE"]
    assert [line.split()[:5] for line in shown[1:]] == [["/bin/sh", "unknown", "2", "2", "exec"]]
    assert files(collector, "app:1", "text", None, [], None, None) == b"/bin/sh\n/etc/old\n"


def test_the_diff_counts_what_head_adds(collector: Server) -> None:
    text, added = diff(collector, "app:1", "app:2", "table")
    assert added == 1
    lines = text.decode().splitlines()
    assert lines[2:] == ["+ /etc/new", "- /etc/old", "1 added, 1 removed, 1 common"]


def test_what_the_collector_refuses_is_one_line_with_its_reason(collector: Server) -> None:
    with pytest.raises(QueryError, match=r"^404: no image with digest or reference 'app:3'; did you mean "):
        files(collector, "app:3", "table", None, [], None, None)
    with pytest.raises(QueryError, match=r"^401: "):
        images(Server(collector.url), "table", None, None, None)  # no token
    with pytest.raises(QueryError, match="cannot reach the collector at http://127.0.0.1:1"):
        images(Server("http://127.0.0.1:1"), "table", None, None, None)


def test_since_is_a_duration_ago_or_a_time() -> None:
    assert since_param("2026-01-31T00:00") == "2026-01-31T00:00"
    assert since_param(None) is None
    assert since_param("1h") is not None and since_param("1h") < since_param("1m")  # type: ignore[operator]
    with pytest.raises(QueryError, match="--since 'yesterday'"):
        since_param("yesterday")
