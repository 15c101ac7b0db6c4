"""Images named the way users type them; an unknown one gets a 404 that suggests what exists."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from snoop.collector.storage.write import ingest
from snoop.common.references import digest_prefix, normalise
from tests.collector.conftest import container

DIGEST = "sha256:" + "3f" * 32


@pytest.mark.parametrize(("typed", "meant"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("grafana/loki", "docker.io/grafana/loki:latest"),
    ("registry.example.com:5000/team/app", "registry.example.com:5000/team/app:latest"),
    ("localhost/demo-app", "localhost/demo-app:latest"),
    ("ghcr.io/org/app@sha256:abc", "ghcr.io/org/app@sha256:abc"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
])
def test_references_normalise_as_docker_reads_them(typed: str, meant: str) -> None:
    assert normalise(typed) == meant


def test_digest_prefixes() -> None:
    assert digest_prefix("3f3f3f3f3f3f") == "sha256:3f3f3f3f3f3f"
    assert digest_prefix("sha256:3f3f3f3f3f3f3f") == "sha256:3f3f3f3f3f3f3f"
    assert digest_prefix("3f3f3f") is None  # too short to be unique in practice
    assert digest_prefix("busybox") is None


def test_images_answer_to_every_name_a_user_types(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container("c1", digest=DIGEST, reference="docker.io/library/busybox:latest",
                             files={b"/bin/sh": 4})], now_ns=1)
        ingest(s, [container("c2", digest="sha256:" + "a1" * 32, reference="localhost/demo-app:latest",
                             files={b"/app": 1})], now_ns=1)
    for key in ("busybox", "busybox:latest", "docker.io/library/busybox", DIGEST, "3f3f3f3f3f3f",
                "sha256:3f3f3f3f3f3f3f3f"):
        r = client.get(f"/api/v1/images/{key}/files")
        assert r.status_code == 200 and r.json()["image"]["digest"] == DIGEST, key
    assert client.get("/api/v1/images/localhost/demo-app/files").status_code == 200
    missing = client.get("/api/v1/images/demo-ap/files")
    assert missing.status_code == 404 and "did you mean localhost/demo-app:latest" in missing.json()["detail"]
    diff = client.get("/api/v1/diff", params={"base": "busybox", "head": "busybx:latest"})
    assert diff.status_code == 404 and diff.json()["detail"].startswith("head:")
    assert "docker.io/library/busybox:latest" in diff.json()["detail"]
