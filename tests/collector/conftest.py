from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from snoop.collector.app import create_app
from snoop.collector.config import CollectorConfig
from snoop.collector.storage.write import ContainerIn


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(CollectorConfig(db_url=db_url), start_grpc=False)) as c:
        yield c


def container(
    cid: str = "c1", *, node: str = "node-a", digest: str = "sha256:aaa", reference: str = "app:1",
    pod: str = "web-6d4cf56db6-x7k9m", files: dict[bytes, int] | None = None, ts: int = 1_000,
    types: dict[bytes, int] | None = None,
) -> ContainerIn:
    return ContainerIn(
        node=node, container_id=cid, name="app", namespace="shop", pod=pod, pod_uid="uid-" + pod,
        image_digest=digest, image_reference=reference, cgroup_id=7, cgroup_path="/k8s.io/" + cid,
        workload_kind="", workload_name="", started_at_ns=ts, total_events=10, dropped_events=0,
        files=tuple((p, k, ts, ts, (types or {}).get(p, 0)) for p, k in (files or {}).items()),
    )
