"""Bad input and half configurations get a clear 4xx or a clear refusal, never a 500 or a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from snoop.agent.config import AgentConfig
from snoop.agent.report import report_file_name, write_reports
from snoop.collector.app import create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.storage.db import make_engine
from snoop.collector.storage.write import ingest
from tests.collector.conftest import container
from tests.conftest import SNOOP
from tests.harness.postgres import Postgres


@pytest.mark.parametrize("query", [
    {"since": "9999-12-31"}, {"since": "0001-01-01"}, {"since": "yesterday"}, {"offset": str(2**63)},
    {"limit": "0"}, {"type": "folder"}, {"kind": "touch"},
])
def test_out_of_range_queries_are_4xx(client: TestClient, query: dict) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files={b"/a": 1})], now_ns=1)
    lists = ("/api/v1/images/app:1/files", "/api/v1/workloads/shop/web/files")
    for url in lists if {"type", "kind"} & query.keys() else ("/api/v1/images", *lists):
        r = client.get(url, params=query)
        assert r.status_code == 422, (url, query, r.text)


@pytest.mark.parametrize("url", ["/api/v1/images/a%00b/files", "/api/v1/pods/ns%00/p/report",
                                 "/api/v1/diff?base=a%00&head=b", "/api/v1/images?namespace=x%00"])
def test_nul_in_any_name_is_422(client: TestClient, url: str) -> None:
    """PostgreSQL refuses NUL in text (a 500 before); every database gets the same 422."""
    r = client.get(url)
    assert r.status_code == 422 and "NUL" in r.json()["detail"]


def test_database_down_is_503_and_readyz_keeps_its_secrets(postgres: Postgres) -> None:
    url = postgres.new_database()
    with TestClient(create_app(CollectorConfig(db_url=url), start_grpc=False)) as client:
        postgres.pause()
        try:
            r = client.get("/api/v1/images")
            assert r.status_code == 503 and r.headers["retry-after"]
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {"status": "database unreachable"}  # no host, user or driver text
        finally:
            postgres.resume()
        assert client.get("/api/v1/images").status_code == 200


def test_sqlite_acknowledges_only_what_survives_a_power_cut(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/s.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: fsync at every commit


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tls_client_ca": Path("/etc/hostname")}, "--tls-client-ca needs --tls-cert"),
    ({"tls_cert": Path("/etc/hostname")}, "--tls-cert and --tls-key go together"),
    ({"tls_key": Path("/etc/hostname")}, "--tls-cert and --tls-key go together"),
    ({"tls_cert": Path("/nonexistent.pem"), "tls_key": Path("/etc/hostname")}, "no such file"),
])
def test_half_a_tls_configuration_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CollectorConfig(**kwargs)


def test_agent_refuses_a_certificate_without_its_key() -> None:
    with pytest.raises(ValueError, match="go together"):
        AgentConfig(node_name="n", tls_cert=Path("/etc/hostname"))


def test_collector_cli_says_what_is_wrong_without_a_traceback() -> None:
    r = subprocess.run([str(SNOOP), "collector", "--tls-client-ca", "/etc/hostname"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "--tls-client-ca needs --tls-cert" in r.stderr and "Traceback" not in r.stderr


def test_help_never_prints_secrets() -> None:
    env = {"SNOOP_TOKEN": "s3cret-token", "SNOOP_DB": "postgresql://snoop:hunter2@db/snoop", "PATH": "/usr/bin:/bin"}
    for command in ("collector", "agent", "push", "images"):
        out = subprocess.run([str(SNOOP), command, "--help"], capture_output=True, text=True, env=env).stdout
        assert "s3cret-token" not in out and "hunter2" not in out, command
    out = subprocess.run([str(SNOOP), "collector", "--help"], capture_output=True, text=True, env=env).stdout
    assert "[env SNOOP_TOKEN] (set)" in " ".join(out.split())


@pytest.mark.parametrize(("namespace", "pod"), [("../../../x", "p"), ("ns", "../../escape"), ("a/b", ".."),
                                                ("..", "..")])
def test_report_names_stay_in_the_output_directory(tmp_path: Path, namespace: str, pod: str) -> None:
    out = tmp_path / "reports"
    write_reports(out, [{"namespace": namespace, "pod_name": pod}])
    (written,) = out.iterdir()
    assert written.parent == out and written.name == report_file_name(namespace, pod)
    assert list(tmp_path.iterdir()) == [out]
    assert report_file_name("default", "web-0") == "default_web-0.json"  # real names are unchanged


def test_no_500_for_deep_scans_or_huge_page_offsets(client: TestClient) -> None:
    """A 100,000-deep array as a scan and an offset past any integer: each a 4xx with the reason."""
    from snoop.collector.storage.write import ingest
    from tests.collector.conftest import container

    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", files={b"/bin/sh": 4})], now_ns=1)
    deep = client.post("/api/v1/images/app:1/vulnerabilities", content=b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code == 422 and "nests deeper" in deep.json()["detail"]
    nested: dict = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}
    inner = nested["components"]
    for _ in range(100):  # deep, yet decodable: refused before any reader walks it
        child: dict = {"type": "library", "name": "x", "components": []}
        inner.append(child)
        inner = child["components"]
    assert client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(nested)).status_code == 422
    page = client.get("/images/app:1", params={"offset": "99999999999999999999999"}, headers={"accept": "text/html"})
    assert page.status_code == 422 and "offset" in page.text
