"""snoop on a real Kubernetes, installed as the README says: ``kubectl apply -k`` of an overlay naming the registry
(here the node's own image store), after creating the database Secret. Then what people do with it: workloads of
every kind, ``kubectl exec``, rollouts of the agent and the collector while files keep coming, port-forward to the
REST, the web view and the CLI, a read-only root from ``snoop harden``, and deleting workloads.

One cluster, one install, steps in order (module scope): each test is a step a user takes after the one before."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import NAMESPACE, poll, port_forward, registry_overlay
from tests.conftest import REPO, SNOOP
from tests.harness.cluster import SOCKET, Cluster

pytestmark = [pytest.mark.bpf, pytest.mark.containerd, pytest.mark.cluster]
TICKS = 600  # files the ticker makes, one every 0.1 s: a minute of new files across each rollout


@pytest.fixture(scope="module")
def installed(cluster: Cluster, snoop_images: dict[str, str],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The README's steps: the namespace, the database Secret (one command), ``kubectl apply -k``."""
    overlay = registry_overlay(tmp_path_factory.mktemp("overlay"), REPO / "deploy", snoop_images)
    cluster.kubectl("apply", "-f", str(REPO / "deploy/namespace.yaml"))
    cluster.kubectl("-n", NAMESPACE, "create", "secret", "generic", "snoop-database",
                    f"--from-literal=password={secrets.token_hex(16)}")
    cluster.kubectl("apply", "-k", str(overlay))
    for workload in ("statefulset/snoop-postgres", "deployment/snoop-collector", "daemonset/snoop-agent"):
        cluster.kubectl("-n", NAMESPACE, "rollout", "status", workload, "--timeout=300s", timeout_s=320)
    yield overlay
    cluster.kubectl("delete", "-k", str(overlay), "--wait=true", "--timeout=180s", timeout_s=200, check=False)


@pytest.fixture
def rest(cluster: Cluster, installed: Path) -> Iterator[str]:
    """A port-forward per test: one follows a single pod, and the collector's rollout replaces them all."""
    with port_forward(cluster, "service/snoop-collector", 8080) as url:
        yield url


def workloads_manifest(images: dict[str, str]) -> str:
    busybox, python = images["busybox"], images["python"]
    def pod(image: str, command: str, restart: str = "Always") -> dict[str, Any]:
        return {"restartPolicy": restart, "terminationGracePeriodSeconds": 1, "containers": [
            {"name": "app", "image": image, "imagePullPolicy": "IfNotPresent", "command": ["/bin/sh", "-c", command]
             if image == busybox else ["python3", "-c", command],
             "securityContext": {"allowPrivilegeEscalation": False}}]}
    def labelled(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"labels": {"app": name}}, "spec": spec}
    serve = "import pathlib, time\nwhile True:\n    pathlib.Path('/etc/os-release').read_text()\n    time.sleep(1)"
    objects = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                  "template": labelled("web", pod(python, serve))}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
         "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                  "template": labelled("db", pod(busybox, "cat /etc/passwd; exec sleep 3600"))}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
         "spec": {"template": labelled("migrate", pod(busybox, "cat /etc/group", "Never"))}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report"},
         "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 1,
                  "jobTemplate": {"spec": {"template": labelled("report", pod(busybox, "cat /etc/shells 2>/dev/null; "
                                                                               "cat /etc/passwd", "Never"))}}}},
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})


@pytest.fixture(scope="module")
def shop(cluster: Cluster, installed: Path, workload_images: dict[str, str]) -> Iterator[str]:
    """The workloads, in a namespace whose Pod Security admission enforces `baseline`."""
    cluster.kubectl("create", "namespace", "shop")
    cluster.kubectl("label", "namespace", "shop", "pod-security.kubernetes.io/enforce=baseline")
    cluster.kubectl("-n", "shop", "apply", "-f", "-", input=workloads_manifest(workload_images))
    for workload in ("deployment/web", "statefulset/db"):
        cluster.kubectl("-n", "shop", "rollout", "status", workload, "--timeout=180s", timeout_s=200)
    yield "shop"
    cluster.kubectl("delete", "namespace", "shop", "--wait=true", "--timeout=120s", timeout_s=150, check=False)


def files_of(rest: str, namespace: str, workload: str) -> set[str]:
    r = httpx.get(f"{rest}/api/v1/workloads/{namespace}/{workload}/files", timeout=10)
    return {f["path"] for f in r.json()["files"]} if r.status_code == 200 else set()


def test_installed_as_the_readme_says_pods_ready_and_pod_security_admission_real(cluster: Cluster,
                                                                                  installed: Path) -> None:
    pods = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pods", "-o", "json"))["items"]
    ready = {p["metadata"]["name"]: all(c["ready"] for c in p["status"].get("containerStatuses", [])) for p in pods}
    assert len(ready) == 4 and all(ready.values()), ready  # agent, 2 collectors, PostgreSQL
    collector, agent_status = (status(cluster, pods, name) for name in ("snoop-collector", "snoop-agent"))
    assert collector["Uid"].split()[0] == "10001" and collector["Seccomp"] == "2"  # non-root, RuntimeDefault filter
    assert agent_status["Seccomp"] == "2" and agent_status["NoNewPrivs"] == "1"  # BPF loaded under RuntimeDefault
    # The namespace admits the agent (privileged); a namespace enforcing `restricted` refuses the same pod.
    cluster.kubectl("create", "namespace", "locked-down")
    cluster.kubectl("label", "namespace", "locked-down", "pod-security.kubernetes.io/enforce=restricted")
    agent = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "daemonset", "snoop-agent", "-o", "json"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agent-copy"},
           "spec": {**agent["spec"]["template"]["spec"], "serviceAccountName": "default"}}
    refused = subprocess.run([cluster.bin["kubectl"], f"--kubeconfig={cluster.kubeconfig}", "-n", "locked-down",
                              "create", "--dry-run=server", "-f", "-"], input=json.dumps(pod), capture_output=True,
                             text=True)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr, refused.stderr
    cluster.kubectl("delete", "namespace", "locked-down", "--wait=false")


def status(cluster: Cluster, pods: list[dict[str, Any]], name: str) -> dict[str, str]:
    """/proc/PID/status of the first container of a pod of ``name``, read on the node."""
    pod = next(p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/name") == name)
    container = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    pid = json.loads(subprocess.run([cluster.bin["crictl"], f"--runtime-endpoint=unix://{SOCKET}", "inspect",
                                     container], check=True, capture_output=True, text=True).stdout)["info"]["pid"]
    return dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)


def test_workloads_reach_the_collector_per_workload_with_kinds_from_owner_references(
        cluster: Cluster, shop: str, rest: str) -> None:
    kinds = {"web": "Deployment", "db": "StatefulSet", "migrate": "Job", "report": "CronJob"}
    def seen() -> dict[str, dict[str, Any]]:
        found = httpx.get(f"{rest}/api/v1/workloads", params={"namespace": shop}, timeout=10).json()["workloads"]
        return {w["name"]: w for w in found} if set(kinds) <= {w["name"] for w in found} else {}
    workloads = poll("every workload at the collector (the CronJob's first run is at the next minute)", seen, 150)
    assert {name: (w["kind"], w["kind_source"]) for name, w in workloads.items() if name in kinds} == \
        {name: (kind, "owner") for name, kind in kinds.items()}
    assert workloads["web"]["pods"] == 3
    assert poll("web's file", lambda: "/etc/os-release" in files_of(rest, shop, "web"))
    assert poll("db's file", lambda: "/etc/passwd" in files_of(rest, shop, "db"))
    assert poll("the Job's file", lambda: "/etc/group" in files_of(rest, shop, "migrate"))
    assert poll("the CronJob's file", lambda: "/etc/passwd" in files_of(rest, shop, "report"))
    python_image = workloads["web"]["images"][0]
    summary = httpx.get(f"{rest}/api/v1/images/{python_image}/summary", timeout=10).json()
    assert summary["coverage"]["nodes"] == 1 and summary["image"]["containers"] >= 3


def test_kubectl_exec_is_attributed_to_its_container_and_the_runtime_side_is_not(
        cluster: Cluster, shop: str, rest: str) -> None:
    pod = cluster.kubectl("-n", shop, "get", "pods", "-l", "app=db", "-o", "jsonpath={.items[0].metadata.name}")
    cluster.kubectl("-n", shop, "exec", pod, "--", "/bin/sh", "-c", "touch /tmp/exec-was-here && cat /etc/hostname")
    report = poll("the exec's file in the pod's report", lambda: (lambda r: r if "/tmp/exec-was-here" in json.dumps(r)
                  else None)(httpx.get(f"{rest}/api/v1/pods/{shop}/{pod}/report", timeout=10).json()))
    (app,) = report["containers"]
    paths = {path for section in app.values() if isinstance(section, list) for path in section}
    assert "/tmp/exec-was-here" in paths and "/etc/hostname" in paths
    runtime_side = [p for p in paths if p.startswith(("/run/containerd", "/var/lib/containerd", "/usr/sbin/runc",
                                                      "/usr/bin/runc", str(cluster.root), "/proc/self/exe"))]
    assert runtime_side == []


def ticker(cluster: Cluster, shop: str, name: str, images: dict[str, str]) -> None:
    """A Job that makes a new file every 0.1 s, TICKS of them: what a rollout must not lose."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{
            "name": "tick", "image": images["busybox"], "imagePullPolicy": "IfNotPresent",
            "securityContext": {"allowPrivilegeEscalation": False},
            "command": ["/bin/sh", "-c", f"i=0; while [ $i -lt {TICKS} ]; do i=$((i+1)); "
                                         f"echo $i > /tmp/{name}-$i; sleep 0.1; done"]}]}}}}
    cluster.kubectl("-n", shop, "apply", "-f", "-", input=json.dumps(job))


@pytest.mark.parametrize("component", ["daemonset/snoop-agent", "deployment/snoop-collector"])
def test_a_rollout_while_files_keep_coming_loses_none(cluster: Cluster, shop: str, rest: str,
                                                      workload_images: dict[str, str], component: str) -> None:
    name = f"ticker-{component.split('/')[1].removeprefix('snoop-')}"
    ticker(cluster, shop, name, workload_images)
    poll("the ticker's first files", lambda: len(files_of(rest, shop, name)) >= 10, 60)
    cluster.kubectl("-n", NAMESPACE, "rollout", "restart", component)
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", component, "--timeout=240s", timeout_s=260)
    cluster.kubectl("-n", shop, "wait", "--for=condition=complete", f"job/{name}", "--timeout=240s", timeout_s=260)
    with port_forward(cluster, "service/snoop-collector", 8080) as fresh:  # `rest` forwards to a pod now gone
        expected = {f"/tmp/{name}-{i}" for i in range(1, TICKS + 1)}
        got = poll("every tick at the collector", lambda: (lambda f: f if expected <= f else None)(
            files_of(fresh, shop, name)), 90, every_s=2)
        assert expected <= got
    metrics = agent_metrics(cluster)
    assert metrics.get("snoop_spool_dropped_files_total", 0) == 0


def agent_metrics(cluster: Cluster) -> dict[str, float]:
    """The node's agent's metrics (the one not on its way out after a rollout)."""
    pods = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=snoop-agent",
                                      "-o", "json"))["items"]
    (pod,) = [p["metadata"]["name"] for p in pods if "deletionTimestamp" not in p["metadata"]]
    with port_forward(cluster, f"pod/{pod}", 9090) as url:
        text = poll("the agent's metrics", lambda: httpx.get(f"{url}/metrics", timeout=10).text, 30)
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#") and "{" not in line.split()[0]}


def test_port_forward_serves_rest_pages_and_the_cli(cluster: Cluster, shop: str, rest: str) -> None:
    page = httpx.get(f"{rest}/", timeout=10)
    assert page.status_code == 200 and "shop-python" in page.text
    done = subprocess.run([str(SNOOP), "workloads", "--server", rest, "--namespace", shop], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "web" in done.stdout and "Deployment" in done.stdout, done.stderr


def writer(images: dict[str, str]) -> dict[str, Any]:
    """A Deployment that writes a temporary file, a cache and a pid file, as services do."""
    script = ("mkdir -p /tmp /var/cache/app /run; while true; do date > /tmp/upload.part; "
              "date > /var/cache/app/index; echo $$ > /run/app.pid; sleep 1; done")
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "writer", "namespace": "shop"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "writer"}}, "template": {
                "metadata": {"labels": {"app": "writer"}}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                    "name": "app", "image": images["busybox"], "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "-c", script],
                    "securityContext": {"allowPrivilegeEscalation": False}}]}}}}


def test_snoop_harden_patch_makes_the_root_read_only_and_the_writes_still_succeed(
        cluster: Cluster, shop: str, rest: str, workload_images: dict[str, str], tmp_path: Path) -> None:
    """After traffic, `snoop harden` gives a patch; applied with `kubectl apply -k`, the pod runs Ready with a
    read-only root, its writes succeed, and a write anywhere else fails with EROFS."""
    base = tmp_path / "writer"
    base.mkdir()
    (base / "writer.yaml").write_text(json.dumps(writer(workload_images)))
    cluster.kubectl("apply", "-f", str(base / "writer.yaml"))
    cluster.kubectl("-n", shop, "rollout", "status", "deployment/writer", "--timeout=120s", timeout_s=140)
    written = poll("the writer's three directories in its hardening", lambda: (lambda c: c if [
        w["path"] for w in c[0]["writable"]] == ["/run", "/tmp", "/var/cache/app"] else None)(httpx.get(
            f"{rest}/api/v1/workloads/{shop}/writer/hardening", timeout=10).json()["containers"]), 90)
    assert written[0]["name"] == "app"
    done = subprocess.run([str(SNOOP), "harden", f"{shop}/writer", "--server", rest], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (base / "harden.yaml").write_bytes(done.stdout)
    (base / "kustomization.yaml").write_text("resources: [writer.yaml]\npatches: [{path: harden.yaml}]\n")
    cluster.kubectl("apply", "-k", str(base))
    cluster.kubectl("-n", shop, "rollout", "status", "deployment/writer", "--timeout=120s", timeout_s=140)
    pods = json.loads(cluster.kubectl("-n", shop, "get", "pods", "-l", "app=writer", "-o", "json"))["items"]
    (pod,) = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    name = pod["metadata"]["name"]
    # Each emptyDir starts empty: a file in each is a write that succeeded on the read-only root.
    written_again = ("sleep 2; for f in /tmp/upload.part /var/cache/app/index /run/app.pid; do "
                     "test -s $f && echo $f; done")
    assert cluster.kubectl("-n", shop, "exec", name, "--", "/bin/sh", "-c", written_again).split() == [
        "/tmp/upload.part", "/var/cache/app/index", "/run/app.pid"]
    refused = subprocess.run([cluster.bin["kubectl"], f"--kubeconfig={cluster.kubeconfig}", "-n", shop, "exec", name,
                              "--", "/bin/sh", "-c", "echo x > /etc/elsewhere"], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    cluster.kubectl("delete", "-k", str(base), "--wait=true", "--timeout=60s", timeout_s=80)


def test_deleted_workloads_are_forgotten_by_the_agent_and_kept_by_the_collector(
        cluster: Cluster, shop: str, rest: str) -> None:
    before = agent_metrics(cluster)["snoop_containers_forgotten_total"]
    cluster.kubectl("-n", shop, "delete", "deployment", "web", "--wait=true", "--timeout=120s", timeout_s=150)
    poll("the agent forgetting web's 3 containers", lambda: agent_metrics(cluster)["snoop_containers_forgotten_total"]
         >= before + 3, 120, every_s=5)
    assert "/etc/os-release" in files_of(rest, shop, "web")
