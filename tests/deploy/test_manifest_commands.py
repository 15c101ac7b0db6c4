"""The collector and the agent, started with exactly the args, environment variables and flags the
DaemonSet and the Deployment give them, on this node: manifests and code cannot drift apart.

Only what the cluster would provide is translated: secrets and the node name get test values, the
Service name resolves to loopback, and each container mountPath becomes the host path behind it (the
host's cgroup2 mount where the manifest says /sys/fs/cgroup: this machine mounts it elsewhere)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from snoop.agent.resolver.cgroup import cgroup2_mount
from tests.conftest import SNOOP, require, wait_http
from tests.deploy.manifests import container, environment, find
from tests.harness.containerd import Containerd
from tests.harness.fake_kube_api import FakeKubeApi
from tests.harness.images import busybox_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]


def host_paths(kind: str, name: str, containerd: Containerd) -> dict[str, str]:
    """container mountPath -> what backs it on this node."""
    spec = find(kind, name)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mapping = {}
    for mount in container(kind, name).get("volumeMounts", []):
        host = volumes[mount["name"]].get("hostPath", {}).get("path")
        if host == "/sys/fs/cgroup":
            host = cgroup2_mount()
        elif host == "/run/containerd/containerd.sock":
            host = str(containerd.socket)
        if host:
            mapping[mount["mountPath"]] = host
    return mapping


def translate(value: str, paths: dict[str, str], api: FakeKubeApi) -> str:
    """Host paths for mount paths; loopback for Service names (the API server is a FAKE one)."""
    for mount, host in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        if value == mount or value.startswith(mount + "/") or value.endswith("://" + mount):
            return value.replace(mount, host, 1)
    return value.replace("snoop-collector:", "127.0.0.1:").replace("https://kubernetes.default.svc", api.url)


def ports_free(*ports: int) -> bool:
    import socket

    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


def test_manifest_command_lines_run(bpf_ready: None, containerd: Containerd, tmp_path: Path) -> None:
    require(ports_free(8080, 50051, 9090), "the manifests' ports 8080, 50051 and 9090 must be free")
    collector_spec = container("Deployment", "snoop-collector")
    collector_env = environment(collector_spec, node="node-m",
                                secrets={("snoop-database", "url"): f"sqlite:///{tmp_path}/snoop.db"})
    agent_spec = container("DaemonSet", "snoop-agent")
    paths = host_paths("DaemonSet", "snoop-agent", containerd)
    api = FakeKubeApi()
    agent_env = {k: translate(v, paths, api) for k, v in environment(agent_spec, node="node-m", secrets={}).items()}
    agent_args = [translate(a, paths, api) for a in agent_spec["args"]]
    assert agent_env["SNOOP_CRI_ENDPOINT"] == f"unix://{containerd.socket}"
    assert agent_env["SNOOP_KUBE_API"] == api.url

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOP_")}
    with open(tmp_path / "collector.log", "wb") as clog, open(tmp_path / "agent.log", "wb") as alog:
        collector = subprocess.Popen([str(SNOOP), *collector_spec["args"]], env={**base_env, **collector_env},
                                     stdout=clog, stderr=subprocess.STDOUT, cwd=tmp_path)
        agent = subprocess.Popen([str(SNOOP), *agent_args], env={**base_env, **agent_env}, stdout=alog,
                                 stderr=subprocess.STDOUT)
        try:
            probe = collector_spec["readinessProbe"]["httpGet"]
            wait_http(f"http://127.0.0.1:8080{probe['path']}", proc=collector)
            wait_http(f"http://127.0.0.1:9090{agent_spec['readinessProbe']['httpGet']['path']}", timeout_s=60,
                      proc=agent)
            assert httpx.get(f"http://127.0.0.1:9090{agent_spec['livenessProbe']['httpGet']['path']}").status_code \
                == 200

            rootfs = busybox_rootfs(tmp_path / "rootfs")
            (rootfs / "etc" / "manifest.conf").write_text("x\n")
            image = containerd.import_image("manifest", rootfs=rootfs)
            pod = containerd.run_pod("manifest-0", {"app": (image, ["/bin/cat", "/etc/manifest.conf"])})
            deadline = time.monotonic() + 20
            files: list[str] = []
            while time.monotonic() < deadline and "/etc/manifest.conf" not in files:
                r = httpx.get(f"http://127.0.0.1:8080/api/v1/images/{image.digest}/files")
                files = [f["path"] for f in r.json()["files"]] if r.status_code == 200 else []
                time.sleep(0.2)
            assert "/etc/manifest.conf" in files, (tmp_path / "agent.log").read_text()[-2000:]
            containerd.remove_pod(pod)
            pods = httpx.get("http://127.0.0.1:8080/api/v1/pods/default/manifest-0/report").json()
            assert pods["node"] == "node-m"
            assert api.requests and api.requests[0][1]["fieldSelector"] == ["spec.nodeName=node-m"]
        finally:
            api.close()
            for proc in (agent, collector):
                proc.terminate()
            assert agent.wait(30) == 0, (tmp_path / "agent.log").read_text()[-2000:]
            collector.wait(30)
