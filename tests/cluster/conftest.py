"""The real single-node Kubernetes (tests/harness/cluster) for the session, snoop's images built from deploy/'s
Dockerfiles and imported into its node, and the workloads' images. Stand-ins, each named: the PostgreSQL image
(tests/harness/cluster/postgres.Dockerfile: the official one cannot be pulled here) and hostPath volumes made up
front (no dynamic provisioner)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, free_port, require
from tests.deploy.manifests import WORKLOADS, template
from tests.harness.buildah import build_images
from tests.harness.cluster import Cluster, binaries
from tests.harness.images import busybox_rootfs

POSTGRES = "localhost/snoop-test-postgres:15"
NAMESPACE = "snoop-system"


@pytest.fixture(scope="package")
def cluster(bpf_ready: None) -> Iterator[Cluster]:
    """Up for tests/cluster only, down before the next package: its pods would run beside other tests."""
    require(os.geteuid() == 0, "a kubelet needs root")
    for tool in ("containerd", "runc", "ctr", "iptables", "buildah", "umoci"):
        require(shutil.which(tool) is not None, f"{tool} not installed")
    require(Path("/usr/lib/cni/bridge").exists(), "the CNI plugins are not installed (containernetworking-plugins)")
    node = Cluster(Path(tempfile.mkdtemp(prefix="snoop-cluster-")), binaries())
    try:
        node.up()
        yield node
    finally:
        node.down()
        shutil.rmtree(node.root, ignore_errors=True)


@pytest.fixture(scope="package")
def snoop_images(cluster: Cluster) -> dict[str, str]:
    """Agent, collector and the PostgreSQL stand-in, built by buildah and imported into the node's image store, the
    first two also under localhost/NAME:TAG, as `make images REGISTRY=localhost` would push them: part -> the
    name the manifests give it (the PostgreSQL stand-in under its own name)."""
    tags = {part: template(kind, name)["spec"]["containers"][0]["image"] for part, (kind, name, _) in WORKLOADS.items()}
    dockerfiles = {tags[part]: REPO / dockerfile for part, (_, _, dockerfile) in WORKLOADS.items()}
    dockerfiles[POSTGRES] = REPO / "tests/harness/cluster/postgres.Dockerfile"
    for tag, archive in build_images(REPO, dockerfiles).items():
        cluster.import_archive(archive)
        assert tag in cluster.ctr("images", "list", "--quiet").split()
    for tag in tags.values():
        cluster.ctr("images", "tag", "--force", tag, f"localhost/{tag.rsplit('/', 1)[1]}")
    return {**tags, "postgres": POSTGRES}


@pytest.fixture(scope="package")
def workload_images(cluster: Cluster, debian_rootfs: Path) -> dict[str, str]:
    """What people run: a Debian image with Python (debootstrap) and busybox."""
    scratch = cluster.root / "images"
    return {"python": cluster.import_image("shop-python", debian_rootfs, cmd=["/usr/bin/python3"], tag="v1"),
            "busybox": cluster.import_image("shop-busybox", busybox_rootfs(scratch / "shop-busybox/rootfs"),
                                            cmd=["/bin/sh"], tag="v1")}


def registry_overlay(directory: Path, base: Path, images: dict[str, str]) -> Path:
    """A kustomize overlay as a user writes one for their registry (images:), plus what this machine needs: it
    cannot grant SYS_RESOURCE (outside its bounding set), which kernels since 5.11 do not need."""
    directory.mkdir(parents=True, exist_ok=True)
    def renamed(reference: str) -> str:
        return reference.rsplit(":", 1)[0]
    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization",
             f"resources: [{os.path.relpath(base, directory)}]", "images:"]
    for part in ("agent", "collector"):
        name = renamed(images[part])
        lines += [f"  - name: {name}", f"    newName: localhost/{name.rsplit('/', 1)[1]}"]
    lines += ["  - name: postgres", f"    newName: {renamed(POSTGRES)}", "    newTag: \"15\"",
              "patches:", "  - target: {kind: DaemonSet, name: snoop-agent}",
              "    patch: |", "      - op: replace",
              "        path: /spec/template/spec/containers/0/securityContext/capabilities/add",
              "        value: [BPF, PERFMON, SYS_PTRACE, DAC_READ_SEARCH]"]
    (directory / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return directory


@contextmanager
def port_forward(cluster: Cluster, target: str, port: int, namespace: str = NAMESPACE) -> Iterator[str]:
    """``kubectl port-forward`` to ``target``'s ``port``: yields http://127.0.0.1:LOCAL."""
    local = free_port()
    with subprocess.Popen([cluster.bin["kubectl"], f"--kubeconfig={cluster.kubeconfig}", "-n", namespace,
                           "port-forward", target, f"{local}:{port}"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "Forwarding from" in line, line + proc.stdout.read()
            yield f"http://127.0.0.1:{local}"
        finally:
            proc.terminate()
            proc.wait(10)


def poll(what: str, probe: Callable[[], Any], timeout_s: float = 90, every_s: float = 1) -> Any:
    """``probe()`` until it returns something truthy; its last value in the failure's message."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            value = exc
        if value and not isinstance(value, Exception):
            return value
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {timeout_s} s (last: {value!r})")
