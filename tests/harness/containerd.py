"""A throwaway containerd with its own root, state and socket, driven through the real CRI.

Nothing here is a fake: containerd's CRI plugin creates real runc containers in real cgroups. Pods use
the node's network namespace, so no CNI is needed. Everything lives under one temporary directory and
is torn down (sandboxes first, so that no shim outlives the daemon).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from snoop.agent.cri import cri_api_pb2 as cri
from snoop.agent.cri import cri_api_pb2_grpc as cri_grpc
from snoop.common.oci import manifest_digest
from tests.harness.images import build_image, busybox_rootfs

PAUSE = "localhost/snoop-pause:latest"
CONFIG = """version = 2
root = "{root}/root"
state = "{root}/state"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{root}/runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "crun"
        SystemdCgroup = false
        Root = "{root}/crun"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{root}/cni/bin"
    conf_dir = "{root}/cni/conf"
"""


def prepare_crun_cgroups() -> str | None:
    """crun refuses a hybrid host (cgroup v1, with cgroup2 beside it) whose cgroup2 still holds
    controllers; runc does not mind. Moves those controllers to v1 hierarchies of their own, as a
    hybrid systemd host has them. Returns why it cannot, or None when crun can run."""
    from snoop.agent.resolver.cgroup import cgroup2_mount  # noqa: PLC0415 - a test helper's own need

    unified = Path(cgroup2_mount())
    if unified == Path("/sys/fs/cgroup"):
        return None  # pure cgroup v2: crun's home ground
    for controller in (unified / "cgroup.controllers").read_text().split():
        target = Path("/sys/fs/cgroup") / controller
        if target.is_mount():
            continue
        target.mkdir(exist_ok=True)
        done = subprocess.run(["mount", "-t", "cgroup", "-o", controller, "cgroup", str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return f"cannot move the {controller} controller to cgroup v1 for crun: {done.stderr.strip()}"
    return None


@dataclass
class Image:
    reference: str        # localhost/NAME:latest
    digest: str           # manifest (repository) digest
    digest_reference: str  # localhost/NAME@sha256:…


@dataclass
class Pod:
    sandbox_id: str
    name: str
    namespace: str
    uid: str
    containers: dict[str, str] = field(default_factory=dict)  # name -> container id


class Containerd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "containerd.sock"
        self.endpoint = f"unix://{self.socket}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._pods: list[Pod] = []
        self.images: dict[str, Image] = {}

    # --- daemon -------------------------------------------------------------------------------------
    def start(self) -> None:
        for d in ("root", "state", "opt", "runc", "crun", "cni/bin", "cni/conf", "logs", "build"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        config = self.root / "config.toml"
        config.write_text(CONFIG.format(root=self.root, socket=self.socket, pause=PAUSE))
        self._log = open(self.root / "containerd.log", "wb")  # noqa: SIM115 - lives as long as the daemon
        self._proc = subprocess.Popen(
            ["containerd", "--config", str(config)], stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start: {(self.root / 'containerd.log').read_text()[-2000:]}")
            time.sleep(0.05)
        self._channel = grpc.insecure_channel(self.endpoint)
        self.runtime = cri_grpc.RuntimeServiceStub(self._channel)
        self._wait_cri()
        self.import_image("snoop-pause", cmd=["/bin/sleep", "2147483647"])

    def _wait_cri(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                self.runtime.Version(cri.VersionRequest(), timeout=2)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        for pod in list(self._pods):
            self.remove_pod(pod)
        if self._channel is not None:
            self._channel.close()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._log.close()
        subprocess.run(["umount", "-R", str(self.root / "state")], capture_output=True)

    def ctr(self, *args: str) -> str:
        out = subprocess.run(
            ["ctr", "--address", str(self.socket), "-n", "k8s.io", *args], check=True, capture_output=True
        )
        return out.stdout.decode()

    # --- images -------------------------------------------------------------------------------------
    def import_image(self, name: str, *, rootfs: Path | None = None, cmd: list[str] | None = None,
                     tar: Path | None = None) -> Image:
        """Builds (busybox unless ``rootfs`` is given; or takes the OCI layout ``tar``) and imports
        ``localhost/NAME:latest``, also tagged by its manifest digest as a registry pull would leave it."""
        work = self.root / "build" / name
        work.mkdir(parents=True, exist_ok=True)
        if tar is None:
            tar = build_image(rootfs or busybox_rootfs(work / "rootfs"), work, cmd=cmd)
        digest = manifest_digest(tar)
        self.ctr("images", "import", "--base-name", f"localhost/{name}", str(tar))
        image = Image(f"localhost/{name}:latest", digest, f"localhost/{name}@{digest}")
        self.ctr("images", "tag", "--force", image.reference, image.digest_reference)
        self.images[name] = image
        return image

    # --- pods ---------------------------------------------------------------------------------------
    def _sandbox_config(self, name: str, namespace: str, uid: str) -> cri.PodSandboxConfig:
        labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                  "io.kubernetes.pod.uid": uid}
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, namespace=namespace, uid=uid),
            log_directory=str(self.root / "logs" / uid),
            labels=labels,
            linux=cri.LinuxPodSandboxConfig(
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=cri.NamespaceOption(network=cri.NODE)
                )
            ),
        )

    def run_pod(
        self,
        name: str,
        containers: dict[str, tuple[Image, list[str]]],
        *,
        namespace: str = "default",
        mounts: dict[str, list[tuple[str, str]]] | None = None,
        working_dir: str = "",
        uid: str | None = None,
        runtime_handler: str = "",
    ) -> Pod:
        """Starts a pod whose containers run ``command`` in ``image``; labels as a kubelet sets them.
        ``runtime_handler``: "" for runc, "crun" for crun (a RuntimeClass's handler)."""
        uid = uid or str(uuid.uuid4())
        config = self._sandbox_config(name, namespace, uid)
        return self.run_configured(config, [cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=cname),
            image=cri.ImageSpec(image=image.reference),
            command=command,
            working_dir=working_dir,
            labels={**config.labels, "io.kubernetes.container.name": cname},
            log_path=f"{cname}.log",
            mounts=[cri.Mount(container_path=c, host_path=h) for c, h in (mounts or {}).get(cname, [])],
        ) for cname, (image, command) in containers.items()], runtime_handler=runtime_handler)

    def run_configured(self, config: cri.PodSandboxConfig, containers: list[cri.ContainerConfig], *,
                       runtime_handler: str = "") -> Pod:
        """Starts a sandbox and its containers from configs as given (a kubelet's, for instance)."""
        sandbox = self.runtime.RunPodSandbox(
            cri.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler), timeout=60).pod_sandbox_id
        meta = config.metadata
        pod = Pod(sandbox, meta.name, meta.namespace, meta.uid)
        self._pods.append(pod)
        for cconfig in containers:
            cid = self.runtime.CreateContainer(
                cri.CreateContainerRequest(pod_sandbox_id=sandbox, config=cconfig, sandbox_config=config),
                timeout=60,
            ).container_id
            self.runtime.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
            pod.containers[cconfig.metadata.name] = cid
        return pod

    def status(self, container_id: str) -> cri.ContainerStatus:
        return self.runtime.ContainerStatus(
            cri.ContainerStatusRequest(container_id=container_id), timeout=10
        ).status

    def wait_exited(self, container_id: str, timeout_s: float = 30) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status(container_id)
            if status.state == cri.CONTAINER_EXITED:
                return status.exit_code
            time.sleep(0.05)
        raise TimeoutError(f"container {container_id} still running after {timeout_s}s")

    def remove_pod(self, pod: Pod) -> None:
        self.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod.sandbox_id), timeout=60)
        self.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod.sandbox_id), timeout=60)
        self._pods.remove(pod)
