"""Reading the deploy/ files as a cluster or Docker Compose would: documents, containers, env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from snoop.agent.resolver.cgroup import cgroup2_mount
from tests.conftest import REPO
from tests.deploy.kubelet import Node
from tests.harness.buildah import build_images
from tests.harness.containerd import Containerd
from tests.harness.fake_kube_api import FakeKubeApi

DEPLOY = REPO / "deploy"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/ (kustomizations are kustomize's config, not objects; the chart's
    templates are rendered into these files)."""
    return [(p, d) for p in sorted(DEPLOY.rglob("*.yaml"))
            if p.name != "kustomization.yaml" and DEPLOY / "helm" not in p.parents for d in documents(p)]


def find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in manifests():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no {kind} {name} under deploy/")


def container(kind: str, name: str) -> dict[str, Any]:
    (only,) = find(kind, name)["spec"]["template"]["spec"]["containers"]
    return only


WORKLOADS = {"collector": ("Deployment", "snoop-collector", "deploy/collector/Dockerfile"),
             "agent": ("DaemonSet", "snoop-agent", "deploy/daemonset/Dockerfile")}


def template(kind: str, name: str) -> dict[str, Any]:
    return find(kind, name)["spec"]["template"]


def import_shipped_images(containerd: Containerd) -> dict[str, str]:
    """Both images built from deploy/'s Dockerfiles and imported under the names the manifests give them."""
    tags = {part: template(kind, name)["spec"]["containers"][0]["image"]
            for part, (kind, name, _) in WORKLOADS.items()}
    archives = build_images(REPO, {tags[part]: REPO / dockerfile for part, (_, _, dockerfile) in WORKLOADS.items()})
    for tag, archive in archives.items():
        containerd.ctr("images", "import", "--no-unpack", str(archive))
        assert tag in containerd.ctr("images", "list", "--quiet").split(), containerd.ctr("images", "list")
    return tags


def node_for(containerd: Containerd, name: str, scratch: Path, database_url: str, api: FakeKubeApi) -> Node:
    """This machine as the node the manifests are applied to, its stand-ins pointing at test parts."""
    account = scratch / "serviceaccount"
    account.mkdir(exist_ok=True)
    (account / "token").write_text("projected-token\n")
    return Node(
        name=name, scratch=scratch,
        host_paths={"/sys/fs/cgroup": cgroup2_mount(), "/run/containerd/containerd.sock": str(containerd.socket),
                    "/var/lib/snoop/spool": str(scratch / "spool")},
        secrets={("snoop-database", "url"): database_url},
        services=("snoop-collector",), urls={"https://kubernetes.default.svc": api.url}, service_account=account,
    )
