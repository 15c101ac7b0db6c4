"""The images a cluster runs, built from deploy/'s Dockerfiles and started through the CRI exactly as the manifests
say (tests/deploy/kubelet.py translates every field, or fails on one it does not know).

The collector image talks to a real PostgreSQL, the agent image compiles and loads its BPF program against this
kernel, finds pods through the mounted CRI socket and streams to the collector's container, and a workload pod's
file is then answered by the collector's REST. Stand-ins, each named in kubelet.Node: the API server is a FAKE
(tests/harness/fake_kube_api), cluster DNS is an /etc/hosts line, and every pod shares the node's network (no CNI).
"""

from __future__ import annotations

import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require
from tests.deploy.kubelet import Node, UnknownField, log, plan, process, start, stop
from tests.deploy.manifests import import_shipped_images, node_for, template
from tests.harness.containerd import Containerd
from tests.harness.fake_kube_api import FakeKubeApi
from tests.harness.images import busybox_rootfs
from tests.harness.postgres import Postgres

pytestmark = [pytest.mark.bpf, pytest.mark.containerd, pytest.mark.postgres]

@pytest.fixture(scope="module")
def images(containerd: Containerd) -> dict[str, str]:
    """Both images built and imported into the test containerd under the names the manifests use."""
    require(shutil.which("buildah") is not None, "buildah is not installed (Debian package buildah)")
    return import_shipped_images(containerd)


@pytest.fixture
def node(containerd: Containerd, postgres: Postgres, tmp_path: Path) -> Iterator[tuple[Node, FakeKubeApi]]:
    require(ports_free(8080, 50051, 9090), "the manifests' ports 8080, 50051 and 9090 must be free")
    api = FakeKubeApi()
    yield node_for(containerd, "node-img", tmp_path, postgres.new_database(), api), api
    api.close()


def ports_free(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


def test_the_images_run_as_the_manifests_say(images: dict[str, str], containerd: Containerd,
                                              node: tuple[Node, FakeKubeApi], bpf_ready: None) -> None:
    here, api = node
    collector_plan = plan(template("Deployment", "snoop-collector"), "snoop-collector-0", "snoop-system",
                          str(uuid.uuid4()), here)
    agent_plan = plan(template("DaemonSet", "snoop-agent"), "snoop-agent-0", "snoop-system", str(uuid.uuid4()), here)
    collector = start(containerd, collector_plan)
    try:
        status = process(containerd, collector.containers["collector"])
        assert status["Uid"].split()[0] == "10001" and status["Seccomp"] == "2"  # non-root, RuntimeDefault filter
        agent = start(containerd, agent_plan)
        try:
            status = process(containerd, agent.containers["agent"])
            assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1"  # BPF loaded under RuntimeDefault
            rootfs = busybox_rootfs(here.scratch / "workload")
            (rootfs / "etc" / "shipped.conf").write_text("x\n")
            image = containerd.import_image("shipped", rootfs=rootfs)
            workload = containerd.run_pod("shipped-0", {"app": (image, ["/bin/cat", "/etc/shipped.conf"])})
            files: list[str] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "/etc/shipped.conf" not in files:
                r = httpx.get(f"http://127.0.0.1:8080/api/v1/images/{image.digest}/files")
                files = [f["path"] for f in r.json()["files"]] if r.status_code == 200 else []
                time.sleep(0.5)
            assert "/etc/shipped.conf" in files, log(containerd, agent, "agent")
            containerd.remove_pod(workload)
            report = httpx.get("http://127.0.0.1:8080/api/v1/pods/default/shipped-0/report").json()
            assert report["node"] == "node-img"
            assert ("/api/v1/pods", {"fieldSelector": ["spec.nodeName=node-img"]}, "Bearer projected-token") \
                in api.requests  # the projected token reached the (FAKE) API server
            assert stop(containerd, agent, agent_plan.containers[0].grace_s) == 0, log(containerd, agent, "agent")
        finally:
            containerd.remove_pod(agent)
        grace = collector_plan.containers[0].grace_s
        assert stop(containerd, collector, grace) == 0, log(containerd, collector, "collector")
    finally:
        containerd.remove_pod(collector)


def test_a_field_the_translation_does_not_know_fails(tmp_path: Path) -> None:
    pod = template("Deployment", "snoop-collector")
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    with pytest.raises(UnknownField, match="lifecycle"):
        plan(pod, "x", "snoop-system", "uid", Node(name="n", scratch=tmp_path))
