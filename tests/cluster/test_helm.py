"""The Helm chart on the real cluster: install, an upgrade that changes a value rolls the pods and keeps the
generated database password, uninstall leaves only what the README says (the database's Secret and claim), and a
small cluster's SQLite install."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.cluster.conftest import NAMESPACE, POSTGRES, port_forward
from tests.conftest import REPO
from tests.harness.cluster import Cluster

pytestmark = [pytest.mark.bpf, pytest.mark.containerd, pytest.mark.cluster]
CHART = str(REPO / "deploy/helm/snoop")
# This node's registry is its image store; it cannot grant SYS_RESOURCE (outside its bounding set), which kernels
# since 5.11 do not need.
THIS_NODE = ["--set", "image.registry=localhost", "--set", f"database.postgres.image={POSTGRES}",
             "--set", "agent.capabilities={BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH}"]


def helm(cluster: Cluster, *args: str) -> str:
    done = subprocess.run([cluster.bin["helm"], f"--kubeconfig={cluster.kubeconfig}", "-n", NAMESPACE, *args],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, f"helm {' '.join(args[:2])}: {done.stdout[-2000:]}{done.stderr[-3000:]}\n" \
                                 f"{cluster.kubectl('-n', NAMESPACE, 'get', 'pods', '-o', 'wide', check=False)}" \
                                 f"{cluster.pod_logs(NAMESPACE)}"
    return done.stdout


def objects(cluster: Cluster) -> set[str]:
    """kind/name of what is left in the namespace, and snoop's cluster-scoped RBAC."""
    found = cluster.kubectl("-n", NAMESPACE, "get", "all,secrets,configmaps,pvc,serviceaccounts,networkpolicies,pdb",
                            "-o", "name")
    cluster_wide = cluster.kubectl("get", "clusterroles,clusterrolebindings", "-o", "name",
                                   "-l", "app.kubernetes.io/part-of=snoop")
    defaults = {"configmap/kube-root-ca.crt", "serviceaccount/default"}  # every namespace has them
    return set((found + cluster_wide).split()) - defaults


def collector_pods(cluster: Cluster) -> set[str]:
    return set(cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=snoop-collector",
                               "-o", "jsonpath={.items[*].metadata.name}").split())


def password(cluster: Cluster) -> str:
    secret = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "secret", "snoop-database", "-o", "json"))
    return base64.b64decode(secret["data"]["password"]).decode()


@pytest.fixture(scope="module")
def namespace(cluster: Cluster, snoop_images: dict[str, str]) -> Iterator[str]:
    cluster.kubectl("apply", "-f", str(REPO / "deploy/namespace.yaml"))
    yield NAMESPACE
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s", timeout_s=200)


def test_install_upgrade_uninstall(cluster: Cluster, namespace: str) -> None:
    helm(cluster, "install", "snoop", CHART, *THIS_NODE, "--wait", "--timeout=5m")
    generated = password(cluster)
    assert len(generated) == 32
    with port_forward(cluster, "service/snoop-collector", 8080) as url:
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200  # it reached PostgreSQL with that password

    before = collector_pods(cluster)
    helm(cluster, "upgrade", "snoop", CHART, "--reuse-values", "--set", "collector.retainInstances=30d", "--wait",
         "--timeout=5m")
    cluster.kubectl("-n", NAMESPACE, "wait", "--for=delete", *(f"pod/{pod}" for pod in before), "--timeout=120s",
                    timeout_s=150)
    after = collector_pods(cluster)
    assert len(after) == 2 and not after & before  # every collector pod replaced
    deployment = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "deployment", "snoop-collector", "-o", "json"))
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SNOOP_RETAIN_INSTANCES"] == "30d"
    assert password(cluster) == generated  # read back, not generated again
    with port_forward(cluster, "service/snoop-collector", 8080) as url:
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200

    helm(cluster, "uninstall", "snoop", "--wait", "--timeout=3m")
    cluster.kubectl("-n", NAMESPACE, "wait", "--for=delete", "pod", "--all", "--timeout=120s", timeout_s=150)
    assert objects(cluster) == {"secret/snoop-database", "persistentvolumeclaim/data-snoop-postgres-0"}  # README
    cluster.kubectl("-n", NAMESPACE, "delete", "secret/snoop-database", "pvc/data-snoop-postgres-0")


def test_sqlite_on_a_claim_for_small_clusters(cluster: Cluster, namespace: str) -> None:
    helm(cluster, "install", "snoop", CHART, *THIS_NODE, "--set", "database.type=sqlite", "--wait", "--timeout=5m")
    (pod,) = collector_pods(cluster)
    with port_forward(cluster, f"pod/{pod}", 8080) as url:
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    helm(cluster, "uninstall", "snoop", "--wait", "--timeout=3m")
    cluster.kubectl("-n", NAMESPACE, "wait", "--for=delete", "pod", "--all", "--timeout=120s", timeout_s=150)
    assert objects(cluster) == {"persistentvolumeclaim/snoop-collector-data"}
    cluster.kubectl("-n", NAMESPACE, "delete", "pvc/snoop-collector-data")
