"""Tokens on REST and gRPC, and TLS/mTLS between agent and collector, over real sockets."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from snoop.agent.config import AgentConfig
from snoop.agent.streamer import Streamer
from snoop.collector.app import create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.grpc.server import build_server
from snoop.collector.metrics import CollectorMetrics
from snoop.common.channels import TlsFiles
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc
from tests.conftest import SNOOP, Process, eventually, free_port, require

TOKEN = "s3cret-token"


def batch() -> pb.Batch:
    container = pb.Container(node="n", container_id="c", image_digest="sha256:abc")
    return pb.Batch(agent_id="a", seq=1, containers=[
        pb.ContainerFiles(container=container, files=[pb.FileAccess(path=b"/etc/a", kinds=1)])])


def test_rest_requires_the_token_except_probes(tmp_path: Path) -> None:
    config = CollectorConfig(db_url=f"sqlite:///{tmp_path}/s.db", token=TOKEN)
    with TestClient(create_app(config, start_grpc=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        denied = client.get("/api/v1/images")
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        assert client.get("/metrics").status_code == 401
        assert client.get("/api/v1/images", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/v1/images", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_changes_by_cookie_need_this_site_and_the_page_s_csrf_token(tmp_path: Path) -> None:
    """A scan POSTed by another site's page with only the login cookie (text/plain, Origin evil) is refused;
    so is one from this site without the page's CSRF token; the page's token lets it through. A program
    with the bearer token is unaffected, wherever it says it comes from."""
    from snoop.collector.storage.write import ingest
    from tests.collector.conftest import container

    config = CollectorConfig(db_url=f"sqlite:///{tmp_path}/s.db", token=TOKEN)
    with TestClient(create_app(config, start_grpc=False), base_url="http://snoop.local") as client:
        with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
            ingest(s, [container("c1", files={b"/bin/sh": 4}, digest="sha256:" + "a" * 64)], now_ns=1)
        scan = json.dumps({"SchemaVersion": 2, "ArtifactName": "app:1", "Results": []})
        url = "/api/v1/images/app:1/vulnerabilities"
        evil = {"content-type": "text/plain", "origin": "http://evil.example", "sec-fetch-site": "cross-site"}
        assert client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False).status_code == 303
        assert client.post(url, content=scan, headers=evil).status_code == 403
        sibling = {"origin": "http://snoop.local:8081", "sec-fetch-site": "same-site"}  # another port of the host
        assert client.post(url, content=scan, headers=sibling).status_code == 403
        assert client.post(url, content=scan, headers={"origin": "http://snoop.local"}).status_code == 403  # no token
        page = client.get("/", headers={"accept": "text/html"}).text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        ok = client.post(url, content=scan, headers={"origin": "http://snoop.local", "x-csrf-token": csrf})
        assert ok.status_code == 200, ok.text
        client.cookies.clear()
        program = client.post(url, content=scan, headers={**evil, "authorization": f"Bearer {TOKEN}"})
        assert program.status_code == 200


def test_grpc_requires_the_token(sessions: sessionmaker[Session]) -> None:
    config = CollectorConfig(grpc_listen=("127.0.0.1", 0), token=TOKEN)
    server, port = build_server(config, sessions, CollectorMetrics())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.IngestStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                list(stub.Stream(iter([batch()])))
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            acks = list(stub.Stream(iter([batch()]), metadata=[("authorization", f"Bearer {TOKEN}")]))
            assert acks[0].files_accepted == 1
    finally:
        server.stop(0)


def make_pki(d: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost, and a client certificate."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
        "-subj", "/CN=snoop-test-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "1", "-extfile", "san.ext")
    return {n: d / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def test_agent_streams_over_mutual_tls(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl makes the test certificates")
    pki = make_pki(tmp_path)
    config = CollectorConfig(grpc_listen=("127.0.0.1", 0), tls_cert=pki["server.crt"],
                             tls_key=pki["server.key"], tls_client_ca=pki["ca.crt"], token=TOKEN)
    server, port = build_server(config, sessions, CollectorMetrics())
    try:
        # without a client certificate the handshake fails
        anonymous = grpc.ssl_channel_credentials(pki["ca.crt"].read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", anonymous) as channel:
            with pytest.raises(grpc.RpcError) as err:
                list(pb_grpc.IngestStub(channel).Stream(iter([batch()]), timeout=5,
                                                        metadata=[("authorization", f"Bearer {TOKEN}")]))
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        agent_config = AgentConfig(node_name="n", tls_ca=pki["ca.crt"], tls_cert=pki["client.crt"],
                                   tls_key=pki["client.key"], token=TOKEN)
        tls = TlsFiles(agent_config.tls_ca, agent_config.tls_cert, agent_config.tls_key)
        streamer = Streamer(f"127.0.0.1:{port}", agent_id="t", max_spool_files=1000, tls=tls,
                            token=TOKEN)
        streamer.start()
        try:
            streamer.submit(list(batch().containers), dropped_events=0)
            assert streamer.drain(timeout_s=15)
            assert streamer.acked == 1
        finally:
            streamer.close()
    finally:
        server.stop(0)


def test_tls_collector_serves_https_and_push_and_queries_use_tls(tmp_path: Path) -> None:
    """With --tls-cert the token never crosses in clear: REST is HTTPS, push and queries speak TLS."""
    require(shutil.which("openssl") is not None, "openssl makes the test certificates")
    pki = make_pki(tmp_path)
    http, grpc_port = free_port(), free_port()
    collector = Process(["collector", "--db", f"sqlite:///{tmp_path}/s.db", "--http-listen", f"127.0.0.1:{http}",
                         "--grpc-listen", f"127.0.0.1:{grpc_port}", "--tls-cert", str(pki["server.crt"]),
                         "--tls-key", str(pki["server.key"]), "--token", TOKEN], tmp_path / "collector.log")
    try:
        base = f"https://127.0.0.1:{http}"
        trusted = ssl.create_default_context(cafile=pki["ca.crt"])

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", verify=trusted, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready, timeout_s=30, what=collector.output)
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served
            httpx.get(f"http://127.0.0.1:{http}/readyz", timeout=2)
        report = tmp_path / "r.json"
        report.write_text(json.dumps({"pod_name": "p", "namespace": "ns", "node": "n", "containers": [
            {"name": "c", "image_digest": "sha256:tls", "files": ["/etc/tls.conf"]}]}))
        env = {"SNOOP_TOKEN": TOKEN}
        pushed = subprocess.run([str(SNOOP), "push", "--collector", f"127.0.0.1:{grpc_port}", "--tls-ca",
                                 str(pki["ca.crt"]), str(report)], capture_output=True, text=True, timeout=60,
                                env={**os.environ, **env})
        assert pushed.returncode == 0, pushed.stderr
        plain = subprocess.run([str(SNOOP), "push", "--collector", f"127.0.0.1:{grpc_port}", str(report)],
                               capture_output=True, text=True, timeout=60, env={**os.environ, **env})
        assert plain.returncode == 1 and "UNAVAILABLE" in plain.stderr
        listed = subprocess.run([str(SNOOP), "files", "sha256:tls", "--format", "text", "--server", base,
                                 "--tls-ca", str(pki["ca.crt"])], capture_output=True, text=True, timeout=60,
                                env={**os.environ, **env})
        assert listed.returncode == 0 and listed.stdout == "/etc/tls.conf\n", listed.stderr
    finally:
        collector.stop()
