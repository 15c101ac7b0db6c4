"""``snoop demo``: something real to look at a minute after ``make run`` on a bare machine.

Two versions of a small sample app (busybox, built here as OCI images, no registry) run as pods through
the CRI, each touching files the other does not; the agent traces them like any pod. Each image carries a
small dpkg database (its busybox, the app's files, an unused assets package), and the demo stores a sample
scanner report for them (named as a sample: no real vulnerability), so that packages, verdicts and SBOMs
show something on the first run. The images are built reproducibly: the same digests every run. Nothing
is started on a node whose CRI already runs pods. ``--stop`` removes the demo's pods again.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import httpx

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
# The pod-name alphabet of Kubernetes' generated names: a demo pod reads as a Deployment's.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
BUSYBOX_VERSION = "1:1.35.0-4"
PACKAGES = {  # dpkg package -> (version, its files): used, used, unused
    "busybox-static": (BUSYBOX_VERSION, ["/bin/busybox"]),
    "demo-app": ("{version}.0", []),  # the version's own files under /app, but the unused assets
    "demo-assets": ("1.0", ["/app/unused/big.bin"]),
}
SAMPLE = [  # (id, severity, package): a sample report in Trivy's format, not real vulnerabilities
    ("SAMPLE-2026-0001", "HIGH", "busybox-static"), ("SAMPLE-2026-0002", "CRITICAL", "demo-assets"),
    ("SAMPLE-2026-0003", "MEDIUM", "demo-app"), ("SAMPLE-2026-0004", "LOW", "not-installed"),
]
SCRIPT = {
    "1": "while true; do cat /app/config.json /app/index.html /app/legacy/report.txt >/dev/null; sleep 5; done",
    "2": "while true; do cat /app/config.yaml /app/templates/*.html >/dev/null; date >/dev/null; sleep 5; done",
}


def _dpkg(root: Path, version: str, files: dict[str, str]) -> None:
    """A dpkg database owning the image's files: what ``snoop packages`` and scanners read."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    stanzas = []
    for name, (template, owned) in PACKAGES.items():
        pkg_version = template.format(version=version)
        paths = owned if name != "demo-app" else [f"/{p}" for p in files if not p.startswith("app/unused/")]
        stanzas.append(f"Package: {name}\nStatus: install ok installed\nVersion: {pkg_version}\n"
                       f"Architecture: amd64\nDescription: snoop demo\n")
        (info / f"{name}.list").write_text("".join(p + "\n" for p in paths))
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))
    (root / "etc/os-release").write_text('ID=snoop-demo\nVERSION_ID="1"\nPRETTY_NAME="snoop demo"\n')


def _rootfs(root: Path, files: dict[str, str], version: str = "") -> Path:
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
    if version:
        _dpkg(root, version, files)
    return root


def _import(ctr_address: str, work: Path, name: str, tag: str, files: dict[str, str], cmd: list[str],
            version: str = "") -> None:
    tar = layout_tar([_rootfs(work / f"{name}-{tag}", files, version)], work, cmd=cmd, tag=tag)
    subprocess.run(["ctr", "--address", ctr_address, "-n", "k8s.io", "images", "import", "--base-name", name,
                    str(tar)], check=True, capture_output=True)


def _running(runtime: cri_grpc.RuntimeServiceStub) -> list[cri.Container]:
    listed = runtime.ListContainers(cri.ListContainersRequest(), timeout=10).containers
    return [c for c in listed if c.state == cri.CONTAINER_RUNNING]


def pod_name(version: str) -> str:
    """``app-v1-7d4f8b9c5d-x2kqz``: a Deployment's pod name, in Kubernetes' alphabet."""
    return f"app-v{version}-7d4f8b9c5d-{''.join(random.choices(NAME_ALPHABET, k=5))}"


def sample_report(digest: str, version: str) -> dict:
    """The demo's sample scanner report, in Trivy's JSON format; every finding says it is a sample."""
    versions = {name: template.format(version=version) for name, (template, _) in PACKAGES.items()}
    return {"SchemaVersion": 2, "ArtifactName": f"docker.io/demo/app:{version}", "ArtifactType": "container_image",
            "Metadata": {"RepoDigests": [f"docker.io/demo/app@{digest}"]},
            "Results": [{"Target": "docker.io/demo/app (snoop-demo 1)", "Class": "os-pkgs", "Type": "debian",
                         "Vulnerabilities": [
                             {"VulnerabilityID": vid, "PkgName": pkg, "InstalledVersion": versions.get(pkg, "1.0"),
                              "Severity": severity, "Title": "a sample finding of snoop's demo: no real vulnerability"}
                             for vid, severity, pkg in SAMPLE]}]}


def upload_samples(server: str, timeout_s: float = 30.0) -> int:
    """Stores the sample report of each demo image once the collector knows it; how many were stored."""
    stored = 0
    deadline = time.monotonic() + timeout_s
    for version in VERSIONS:
        ref = f"demo/app:{version}"
        while time.monotonic() < deadline:
            try:
                summary = httpx.get(f"{server}/api/v1/images/{ref}/summary", timeout=5)
                if summary.status_code == 200:
                    digest = summary.json()["image"]["digest"]
                    r = httpx.post(f"{server}/api/v1/images/{digest}/vulnerabilities",
                                   content=json.dumps(sample_report(digest, version)), timeout=30)
                    stored += r.status_code == 200
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    return stored


def start(endpoint: str, server: str) -> str:
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
                _import(address, work, "docker.io/demo/app", version, files, ["/bin/sh", "-c", SCRIPT[version]],
                        version)
        for version in VERSIONS:
            _run_pod(runtime, pod_name(version), f"docker.io/demo/app:{version}", ["/bin/sh", "-c", SCRIPT[version]])
    samples = upload_samples(server)
    return (f"demo: two versions of a sample app run as pods in namespace 'demo'"
            f"{'' if samples == len(VERSIONS) else ' (the sample scanner reports could not be stored)'}. "
            "Try, in another terminal:\n"
            "  .venv/bin/snoop images\n"
            "  .venv/bin/snoop diff demo/app:1 demo/app:2\n"
            "  .venv/bin/snoop summary demo/app:2\n"
            "  .venv/bin/snoop packages demo/app:2\n"
            "  .venv/bin/snoop vulns demo/app:2            # a sample report: no real vulnerability\n"
            "  .venv/bin/snoop files demo/app:2 --unused -o text\n"
            "  open http://localhost:8080/ in a browser\n"
            "Start over with make clean (it removes .snoop, the data of make run).")


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
