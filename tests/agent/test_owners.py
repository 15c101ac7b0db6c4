"""Pod owners from the Kubernetes API, against a FAKE API server (none can run here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from snoop.agent.resolver.owners import KubeApiOwners, owner_from_pod
from tests.harness.fake_kube_api import FakeKubeApi


@pytest.mark.parametrize(
    ("refs", "labels", "owner"),
    [
        ([{"kind": "ReplicaSet", "name": "web-6d4cf56db6", "controller": True}], {"pod-template-hash": "6d4cf56db6"},
         ("Deployment", "web")),
        ([{"kind": "ReplicaSet", "name": "bare-rs", "controller": True}], {}, ("ReplicaSet", "bare-rs")),
        ([{"kind": "StatefulSet", "name": "db", "controller": True}], {}, ("StatefulSet", "db")),
        ([{"kind": "Node", "name": "n1", "controller": False}], {}, None),
        ([], {}, None),
    ],
)
def test_owner_from_pod(refs: list, labels: dict, owner: tuple | None) -> None:
    assert owner_from_pod({"metadata": {"ownerReferences": refs, "labels": labels}}) == owner


def test_a_pod_without_a_controller_is_its_own_workload_by_owner_data() -> None:
    assert owner_from_pod({"metadata": {"name": "debug", "ownerReferences": []}}) == ("Pod", "debug")


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    fake = FakeKubeApi()
    yield fake
    fake.close()


def test_lists_this_nodes_pods_with_the_token_and_rate_limits(api: FakeKubeApi, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0k3n\n")
    api.add_pod("uid-1", "frontend-x", "ReplicaSet", "shop-frontend-7c9d", template_hash="7c9d")
    now = [0.0]
    owners = KubeApiOwners(api.url, node="node-7", token_file=token, ca_file=tmp_path / "no-ca",
                           refresh_every_s=5, clock=lambda: now[0])
    assert owners.owner_of("uid-1") == ("Deployment", "shop-frontend")
    path, query, auth = api.requests[0]
    assert (path, query["fieldSelector"], auth) == ("/api/v1/pods", ["spec.nodeName=node-7"], "Bearer t0k3n")
    assert owners.owner_of("uid-unknown") is None
    assert owners.owner_of("uid-unknown") is None
    assert len(api.requests) == 1  # unknown pods ask again only after refresh_every_s
    api.add_pod("uid-2", "db-0", "StatefulSet", "db")
    now[0] = 6
    assert owners.owner_of("uid-2") == ("StatefulSet", "db")


def test_a_cronjobs_pod_names_the_cronjob_through_its_job_asked_once(api: FakeKubeApi, tmp_path: Path) -> None:
    api.add_pod("uid-1", "report-29012345-abcde", "Job", "report-29012345")
    api.add_pod("uid-2", "migrate-xyz", "Job", "migrate")
    api.add_pod("uid-3", "gone-1-x", "Job", "gone-1")  # its Job already deleted: stays a Job
    api.add_job("default", "report-29012345", cronjob="report")
    api.add_job("default", "migrate", cronjob=None)
    now = [0.0]
    owners = KubeApiOwners(api.url, node="n", token_file=tmp_path / "t", ca_file=tmp_path / "c", clock=lambda: now[0])
    assert owners.owner_of("uid-1") == ("CronJob", "report")
    assert owners.owner_of("uid-2") == ("Job", "migrate")
    assert owners.owner_of("uid-3") == ("Job", "gone-1") and owners.errors == 1
    asked = [path for path, _, _ in api.requests if "/jobs/" in path]
    now[0] = 10
    owners.owner_of("uid-new")  # a refresh lists pods again; Jobs already known are not asked again
    assert [path for path, _, _ in api.requests if "/jobs/" in path] == [*asked, asked[-1]]


def test_unreachable_api_counts_errors(tmp_path: Path) -> None:
    owners = KubeApiOwners("http://127.0.0.1:1", node="n", token_file=tmp_path / "t", ca_file=tmp_path / "c")
    assert owners.owner_of("uid") is None and owners.errors == 1
