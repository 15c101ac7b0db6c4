"""``snoop demo``: something real to look at a minute after ``make run`` on a bare machine.

Two versions of a small sample app (busybox, built here as OCI images, no registry) run as pods through
the CRI, each touching files the other does not; the agent traces them like any pod. Nothing is started
on a node whose CRI already runs pods. ``--stop`` removes the demo's pods again.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import grpc

from snoop.agent.cri import cri_api_pb2 as cri
from snoop.agent.cri import cri_api_pb2_grpc as cri_grpc
from snoop.common.oci import layout_tar

NAMESPACE = "demo"
PAUSE = "localhost/snoop-pause:latest"  # the sandbox image make run's containerd is configured with
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "cat", "ls", "sleep", "echo", "head", "wc", "date", "grep", "sed")
# Version 1 serves from a config file and a page; version 2 reads a new config and templates instead.
VERSIONS = {
    "1": {"app/config.json": '{"greeting": "hello"}\n', "app/index.html": "<h1>v1</h1>\n",
          "app/legacy/report.txt": "old report\n", "app/unused/big.bin": "x" * 200_000},
    "2": {"app/config.yaml": "greeting: hello\n", "app/templates/index.html": "<h1>v2</h1>\n",
          "app/templates/footer.html": "<footer/>\n", "app/unused/big.bin": "x" * 200_000},
}
SCRIPT = {
    "1": "while true; do cat /app/config.json /app/index.html /app/legacy/report.txt >/dev/null; sleep 5; done",
    "2": "while true; do cat /app/config.yaml /app/templates/*.html >/dev/null; date >/dev/null; sleep 5; done",
}


def _rootfs(root: Path, files: dict[str, str]) -> Path:
    (root / "bin").mkdir(parents=True)
    for d in ("etc", "tmp", "proc", "sys", "dev"):
        (root / d).mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _import(ctr_address: str, work: Path, name: str, tag: str, files: dict[str, str], cmd: list[str]) -> None:
    tar = layout_tar([_rootfs(work / f"{name}-{tag}", files)], work, cmd=cmd, tag=tag)
    subprocess.run(["ctr", "--address", ctr_address, "-n", "k8s.io", "images", "import", "--base-name", name,
                    str(tar)], check=True, capture_output=True)


def _running(runtime: cri_grpc.RuntimeServiceStub) -> list[cri.Container]:
    listed = runtime.ListContainers(cri.ListContainersRequest(), timeout=10).containers
    return [c for c in listed if c.state == cri.CONTAINER_RUNNING]


def start(endpoint: str) -> str:
    """Starts the demo unless the CRI runs pods already; what to tell the user."""
    if not BUSYBOX.exists():
        return "demo: /bin/busybox is missing (Debian package busybox-static): no demo"
    address = endpoint.removeprefix("unix://")
    with grpc.insecure_channel(endpoint) as channel:
        runtime = cri_grpc.RuntimeServiceStub(channel)
        running = _running(runtime)
        if running:
            return f"demo: the CRI runs {len(running)} containers already; no demo started"
        with tempfile.TemporaryDirectory(prefix="snoop-demo-") as tmp:
            work = Path(tmp)
            _import(address, work, "localhost/snoop-pause", "latest", {}, ["/bin/sleep", "2147483647"])
            for version, files in VERSIONS.items():
                _import(address, work, "docker.io/demo/app", version, files, ["/bin/sh", "-c", SCRIPT[version]])
        for version in VERSIONS:
            _run_pod(runtime, f"app-v{version}-7d4f8b9c5d-{uuid.uuid4().hex[:5]}", f"docker.io/demo/app:{version}",
                     ["/bin/sh", "-c", SCRIPT[version]])
    return ("demo: two versions of a sample app run as pods in namespace 'demo'. Try, in another terminal:\n"
            "  .venv/bin/snoop images\n"
            "  .venv/bin/snoop diff demo/app:1 demo/app:2\n"
            "  .venv/bin/snoop summary demo/app:2\n"
            "  .venv/bin/snoop files demo/app:2 --unused -o text\n"
            "  open http://localhost:8080/ in a browser")


def _run_pod(runtime: cri_grpc.RuntimeServiceStub, name: str, image: str, command: list[str]) -> None:
    uid = str(uuid.uuid4())
    labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": NAMESPACE,
              "io.kubernetes.pod.uid": uid, "snoop.demo": "true"}
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace=NAMESPACE, uid=uid), labels=labels,
        log_directory=tempfile.mkdtemp(prefix="snoop-demo-logs-"),
        linux=cri.LinuxPodSandboxConfig(security_context=cri.LinuxSandboxSecurityContext(
            namespace_options=cri.NamespaceOption(network=cri.NODE))))
    sandbox = runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
    container = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="app"), image=cri.ImageSpec(image=image), command=command,
        labels={**labels, "io.kubernetes.container.name": "app"}, log_path="app.log")
    cid = runtime.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=sandbox, config=container,
                                                             sandbox_config=config), timeout=60).container_id
    runtime.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)


def stop(endpoint: str) -> str:
    """Removes the demo's pods (and so their shims), whatever runs beside them."""
    with grpc.insecure_channel(endpoint) as channel:
        runtime = cri_grpc.RuntimeServiceStub(channel)
        listed = runtime.ListContainers(cri.ListContainersRequest(), timeout=10).containers
        demo = {c.pod_sandbox_id for c in listed if c.labels.get("snoop.demo") == "true"}
        for pod in demo:
            runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
            runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    return f"demo: removed {len(demo)} pods"
