"""A collector started before its database (a pod beside its PostgreSQL, a database restarting): it starts, says it
is alive but not ready, answers 503 with Retry-After, and serves — REST and gRPC ingest — once the database comes."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import SNOOP, Process, free_port, require, wait_http
from tests.harness.postgres import Postgres, postgres_bin

pytestmark = pytest.mark.postgres


def test_a_collector_waits_for_a_database_that_comes_later(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "starting PostgreSQL as the postgres user needs root")
    require(postgres_bin() is not None, "PostgreSQL is not installed (Debian package postgresql)")
    db_port, http, grpc_port = free_port(), free_port(), free_port()
    server = Postgres(Path(tempfile.mkdtemp(prefix="snoop-postgres-later-")), db_port)
    collector = Process(["collector", "--db", server.url("postgres"), "--http-listen", f"127.0.0.1:{http}",
                         "--grpc-listen", f"127.0.0.1:{grpc_port}"], tmp_path / "collector.log")
    base = f"http://127.0.0.1:{http}"
    try:
        wait_http(f"{base}/healthz", proc=collector.proc)
        assert httpx.get(f"{base}/readyz").status_code == 503
        refused = httpx.get(f"{base}/api/v1/images")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert "not reached yet" in refused.json()["detail"]
        server.start()
        wait_http(f"{base}/readyz", timeout_s=30, proc=collector.proc)
        assert httpx.get(f"{base}/api/v1/images").json()["images"] == []
        report = tmp_path / "pod.json"
        report.write_text(json.dumps({
            "pod_name": "later-0", "namespace": "default", "node": "n1", "started_at": "2026-12-01T10:00:00Z",
            "last_updated_at": "2026-12-01T10:05:00Z", "total_events": 1, "dropped_events": 0,
            "containers": [{"name": "app", "container_id": "c1", "image": "shop/web:1", "image_digest":
                            "sha256:" + "a" * 64, "cgroup_id": 1, "cgroup_path": "/x", "files": ["/etc/later.conf"],
                            "total_events": 1, "unique_files": 1}]}))
        pushed = subprocess.run([str(SNOOP), "push", "--collector", f"127.0.0.1:{grpc_port}", str(report)],
                                capture_output=True, text=True, timeout=60)
        assert pushed.returncode == 0, pushed.stderr
        files = httpx.get(f"{base}/api/v1/images/sha256:{'a' * 64}/files").json()["files"]
        assert [f["path"] for f in files] == ["/etc/later.conf"]
        assert "database unreachable at start" in collector.output()
    finally:
        assert collector.stop() == 0, collector.output()[-3000:]
        server.stop()
