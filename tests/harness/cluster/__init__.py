"""A real single-node Kubernetes on this machine: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kubelet, kube-proxy and CoreDNS, built from their Go modules at the versions of tools/cluster/go.mod, with pods run
by a containerd of our own at the socket a node has (/run/containerd/containerd.sock) and networked by Debian's CNI
plugins (a bridge). The tests bring it up; `make cluster` / `make cluster-down` do the same for people.

Everything lives under one directory (its PKI, etcd's data, logs, the admin kubeconfig); the daemons outlive the
process that started them (their pids are written there), so ``down`` works from a new process. What this node
cannot show (several nodes, a CNI that enforces NetworkPolicies) is written in docs/deploy.md.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.harness.cluster.pki import Authority
from tests.harness.images import build_image, busybox_rootfs

REPO = Path(__file__).resolve().parents[3]
SOCKET = Path("/run/containerd/containerd.sock")
NODE = "snoop-node"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DNS_IP = "10.96.0.10"
POD_CIDR = "10.244.0.0/24"
ETCD_PORT = 12379
API_PORT = 6443
PAUSE = "localhost/snoop-pause:latest"
COREDNS = "localhost/snoop-coredns:cluster"
CNI_BIN = Path("/usr/lib/cni")
# Stopped in this order: nothing restarts what was stopped before it.
ORDER = ("kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler", "kube-apiserver", "etcd", "containerd")

CONTAINERD_CONFIG = """version = 2
root = "{root}/containerd/root"
state = "/run/containerd/state"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  disable_apparmor = true
  restrict_oom_score_adj = true  # this machine refuses a negative oom_score_adj (the kubelet asks -998 for pods)
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{root}/cni"
"""

KUBELET_CONFIG: dict[str, Any] = {
    "apiVersion": "kubelet.config.k8s.io/v1beta1",
    "kind": "KubeletConfiguration",
    "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True}},
    "authorization": {"mode": "Webhook"},
    "cgroupDriver": "cgroupfs",        # containerd 1.6 cannot tell the kubelet (RuntimeConfig came in 2.0)
    "failCgroupV1": False,             # this machine's cgroups are v1 (hybrid); deprecated, still supported
    "failSwapOn": False,
    "clusterDNS": [DNS_IP],
    "clusterDomain": "cluster.local",
    "containerRuntimeEndpoint": f"unix://{SOCKET}",
    "imageGCHighThresholdPercent": 100,  # images are imported, not pulled: never collect them
    "imageGCLowThresholdPercent": 99,
    "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                     "nodefs.inodesFree": "1%"},
    "serializeImagePulls": False,
    "resolvConf": "/etc/resolv.conf",
}


TOOLS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl",
         "crictl", "helm", "coredns")


def binaries() -> dict[str, str]:
    """Every binary the cluster runs, built by scripts/tool.sh once per pinned version: name -> path."""
    tool = str(REPO / "scripts" / "tool.sh")
    subprocess.run([tool, *TOOLS], check=True)
    return {name: subprocess.run([tool, name], check=True, capture_output=True, text=True).stdout.strip()
            for name in TOOLS}


@dataclass
class Cluster:
    root: Path
    bin: dict[str, str]
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # components this process started
    _stopped: set[str] = field(default_factory=set)  # components this process stopped

    @property
    def kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    # --- bring up -----------------------------------------------------------------------------------
    def up(self) -> None:
        """Starts every component and waits for the node and cluster DNS to be ready."""
        binaries = self.bin
        for d in ("logs", "pids", "cni", "kubelet", "pod-logs", "images", "etcd", "containerd", "bin", "volumes"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for name, path in binaries.items():  # one PATH entry for people: kubectl, crictl, helm
            link = self.root / "bin" / name
            link.unlink(missing_ok=True)
            link.symlink_to(path)
        self._preflight()
        self.ip = node_ip()
        pki = self._pki()
        self._containerd()
        self._start("etcd", [binaries["etcd"], "--data-dir", str(self.root / "etcd"), "--name", NODE,
                             "--listen-client-urls", f"http://127.0.0.1:{ETCD_PORT}",
                             "--advertise-client-urls", f"http://127.0.0.1:{ETCD_PORT}",
                             "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PORT + 1}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PORT + 1}",
                             "--initial-cluster", f"{NODE}=http://127.0.0.1:{ETCD_PORT + 1}",
                             "--listen-metrics-urls", "", "--log-level", "warn"])
        self._start("kube-apiserver", [
            binaries["kube-apiserver"], f"--etcd-servers=http://127.0.0.1:{ETCD_PORT}",
            f"--advertise-address={self.ip}", f"--secure-port={API_PORT}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--tls-cert-file={pki['apiserver'][0]}", f"--tls-private-key-file={pki['apiserver'][1]}",
            f"--client-ca-file={pki['ca']}", f"--service-account-key-file={pki['sa'][0]}",
            f"--service-account-signing-key-file={pki['sa'][1]}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true",
            f"--kubelet-client-certificate={pki['apiserver-kubelet-client'][0]}",
            f"--kubelet-client-key={pki['apiserver-kubelet-client'][1]}",
            "--kubelet-preferred-address-types=InternalIP", "--profiling=false"])
        self._wait(lambda: self._api_ready(pki), "kube-apiserver /readyz", 120)
        self._start("kube-controller-manager", [
            binaries["kube-controller-manager"], f"--kubeconfig={self.root / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={self.root / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={self.root / 'controller-manager.kubeconfig'}",
            f"--service-account-private-key-file={pki['sa'][1]}", f"--root-ca-file={pki['ca']}",
            f"--cluster-signing-cert-file={pki['ca']}", f"--cluster-signing-key-file={self.root / 'pki/ca.key'}",
            "--use-service-account-credentials=true", "--leader-elect=false", "--bind-address=127.0.0.1"])
        self._start("kube-scheduler", [
            binaries["kube-scheduler"], f"--kubeconfig={self.root / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={self.root / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={self.root / 'scheduler.kubeconfig'}",
            "--leader-elect=false", "--bind-address=127.0.0.1"])
        config = {**KUBELET_CONFIG, "podLogsDir": str(self.root / "pod-logs"),
                  "authentication": {**KUBELET_CONFIG["authentication"], "x509": {"clientCAFile": pki["ca"]}},
                  "tlsCertFile": pki["kubelet"][0], "tlsPrivateKeyFile": pki["kubelet"][1]}
        (self.root / "kubelet.yaml").write_text(json.dumps(config, indent=1))
        self._start("kubelet", [
            binaries["kubelet"], f"--config={self.root / 'kubelet.yaml'}",
            f"--kubeconfig={self.root / 'kubelet.kubeconfig'}", f"--hostname-override={NODE}",
            f"--node-ip={self.ip}", f"--root-dir={self.root / 'kubelet'}"])
        self._start("kube-proxy", [
            binaries["kube-proxy"], f"--kubeconfig={self.root / 'kube-proxy.kubeconfig'}",
            f"--hostname-override={NODE}", f"--cluster-cidr={POD_CIDR}", "--proxy-mode=iptables",
            "--conntrack-max-per-core=0", "--metrics-bind-address=127.0.0.1:10249"])
        self._wait(lambda: self.kubectl("get", "node", NODE, check=False).strip() != "", "the node to register", 60)
        self.kubectl("wait", "--for=condition=Ready", f"node/{NODE}", "--timeout=120s", timeout_s=150)
        self._volumes()
        self._coredns()

    def _volumes(self, count: int = 6, size: str = "20Gi") -> None:
        """hostPath PersistentVolumes made up front, of no StorageClass: claims that name none bind to them (this
        node has no dynamic provisioner). Retained: a released volume is not handed to the next claim."""
        items = []
        for i in range(count):
            path = self.root / "volumes" / f"pv-{i}"
            path.mkdir(exist_ok=True)
            path.chmod(0o777)  # as local-path-provisioner makes them: hostPath volumes get no fsGroup ownership
            items.append({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"snoop-node-pv-{i}"},
                          "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                                   "hostPath": {"path": str(path), "type": "Directory"}}})
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def _preflight(self) -> None:
        if SOCKET.exists():
            probe = subprocess.run(["ctr", "--address", str(SOCKET), "version"], capture_output=True)
            if probe.returncode == 0:
                raise RuntimeError(f"a containerd already serves {SOCKET}: the cluster's node needs that socket "
                                   "(make cluster-down stops one this harness started)")
            SOCKET.unlink()
        missing = [p for p in ("ctr", "runc", "iptables", "openssl") if subprocess.run(
            ["sh", "-c", f"command -v {p}"], capture_output=True).returncode]
        if missing or not (CNI_BIN / "bridge").exists():
            raise RuntimeError(f"missing: {missing or ''} {'' if (CNI_BIN / 'bridge').exists() else CNI_BIN / 'bridge'}"
                               " (make deps installs them)")
        for sysctl in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"):
            path = Path("/proc/sys") / sysctl
            if path.exists():
                path.write_text("1\n")  # Services reach pods on the same bridge only through netfilter

    def _pki(self) -> dict:
        ca = Authority(self.root / "pki")
        hosts = (self.ip, "127.0.0.1", API_SERVICE_IP, "localhost", "kubernetes", "kubernetes.default",
                 "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
        pairs = {
            "apiserver": ca.issue("apiserver", "kube-apiserver", hosts=hosts),
            "apiserver-kubelet-client": ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                                                 groups=("system:masters",)),
            "kubelet": ca.issue("kubelet", f"system:node:{NODE}", groups=("system:nodes",),
                                hosts=(self.ip, "127.0.0.1", NODE)),
        }
        users = {"admin": ("admin", ("system:masters",)),
                 "controller-manager": ("system:kube-controller-manager", ()),
                 "scheduler": ("system:kube-scheduler", ()),
                 "kube-proxy": ("system:kube-proxy", ())}
        server = f"https://{self.ip}:{API_PORT}"
        for name, (user, groups) in users.items():
            pair = ca.issue(name, user, groups=groups)
            write_kubeconfig(self.root / f"{name}.kubeconfig", server, ca.ca.cert, pair.cert, pair.key, user)
        write_kubeconfig(self.root / "kubelet.kubeconfig", server, ca.ca.cert, pairs["kubelet"].cert,
                         pairs["kubelet"].key, f"system:node:{NODE}")
        sa = ca.signing_key()
        self._admin = (str(self.root / "pki/admin.crt"), str(self.root / "pki/admin.key"))
        return {"ca": str(ca.ca.cert), "sa": (str(sa.cert), str(sa.key)),
                **{k: (str(v.cert), str(v.key)) for k, v in pairs.items()}}

    def _containerd(self) -> None:
        conflist = {"cniVersion": "1.0.0", "name": "snoop-pods", "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                      "dataDir": str(self.root / "cni-ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
        (self.root / "cni" / "10-snoop-pods.conflist").write_text(json.dumps(conflist, indent=1))
        config = self.root / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG.format(root=self.root, socket=SOCKET, pause=PAUSE, cni_bin=CNI_BIN))
        self._start("containerd", ["containerd", "--config", str(config)])
        self._wait(lambda: subprocess.run(["ctr", "--address", str(SOCKET), "version"],
                                          capture_output=True).returncode == 0, "containerd", 30)
        self.import_image("snoop-pause", busybox_rootfs(self.root / "images/pause/rootfs"),
                          cmd=["/bin/sleep", "2147483647"])

    def _coredns(self) -> None:
        rootfs = self.root / "images/coredns/rootfs"
        (rootfs / "etc").mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", self.bin["coredns"], str(rootfs / "coredns")], check=True)
        self.import_image("snoop-coredns", rootfs, cmd=["/coredns"], tag="cluster")
        self.kubectl("apply", "-f", str(Path(__file__).with_name("coredns.yaml")))
        self.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s",
                     timeout_s=150)

    # --- use ----------------------------------------------------------------------------------------
    def import_image(self, name: str, rootfs: Path, *, cmd: list[str], tag: str = "latest") -> str:
        """Builds ``rootfs`` into localhost/NAME:TAG and imports it as a node's image store holds a pulled one."""
        work = self.root / "images" / name
        work.mkdir(parents=True, exist_ok=True)
        tar = build_image(rootfs, work, tag=tag, cmd=cmd)
        self.ctr("images", "import", "--base-name", f"localhost/{name}", str(tar))
        return f"localhost/{name}:{tag}"

    def import_archive(self, archive: Path) -> None:
        """An OCI archive (buildah push oci-archive:…) into the node's image store under its own name."""
        self.ctr("images", "import", "--no-unpack", str(archive))

    def ctr(self, *args: str) -> str:
        return subprocess.run(["ctr", "--address", str(SOCKET), "-n", "k8s.io", *args], check=True,
                              capture_output=True, text=True).stdout

    def kubectl(self, *args: str, input: str | None = None, timeout_s: float = 60, check: bool = True) -> str:
        done = subprocess.run([self.bin["kubectl"], f"--kubeconfig={self.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout_s)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}\n"
                               f"{self.diagnose()}")
        return done.stdout

    def pod_logs(self, namespace: str) -> str:
        """The last lines of every container in ``namespace`` (and of their previous runs), for a failure's message."""
        logs = []
        for previous in ("false", "true"):
            logs.append(self.kubectl("-n", namespace, "logs", "--all-containers", "--prefix", "--tail=15",
                                     f"--previous={previous}", "-l", "app.kubernetes.io/part-of", check=False))
        return "\n".join(logs)

    def diagnose(self) -> str:
        """The last lines of each component's log, for a failure's message."""
        parts = []
        for name in ORDER:
            log = self.root / "logs" / f"{name}.log"
            if log.exists():
                parts.append(f"--- {name} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(parts)

    # --- tear down ----------------------------------------------------------------------------------
    def down(self) -> None:
        """Stops every component and removes what they left on the host: pods, mounts, iptables rules, the bridge.
        Keeps the directory (its logs); idempotent."""
        self._stop("kubelet")
        if SOCKET.exists():
            crictl = [self.bin.get("crictl", "crictl"), f"--runtime-endpoint=unix://{SOCKET}", "--timeout=60s"]
            subprocess.run([*crictl, "rmp", "--all", "--force"], capture_output=True)
        self._stop("kube-proxy")
        if "kube-proxy" in self.bin:
            subprocess.run([self.bin["kube-proxy"], "--cleanup"], capture_output=True)
        for name in ORDER[2:]:
            self._stop(name)
        for mount in reversed(mounts_under(self.root, Path("/run/containerd"))):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        if "containerd" in self._stopped:  # its sockets, or the node's socket path looks taken
            for path in (SOCKET, SOCKET.with_name(SOCKET.name + ".ttrpc")):
                path.unlink(missing_ok=True)
        subprocess.run(["ip", "link", "delete", "cni0"], capture_output=True)

    # --- processes ----------------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the daemon
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        (self.root / "pids" / name).write_text(f"{proc.pid}\n")
        self._procs[name] = proc

    def _stop(self, name: str, timeout_s: float = 30) -> None:
        pidfile = self.root / "pids" / name
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and alive(pid):
                time.sleep(0.1)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc = self._procs.get(name)
        if proc is not None:
            proc.wait()
        pidfile.unlink()
        self._stopped.add(name)

    def _wait(self, ready, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}:\n"
                                       f"{self.diagnose()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready within {timeout_s} s:\n{self.diagnose()}")
            time.sleep(0.2)

    def _api_ready(self, pki: dict) -> bool:
        tls = ssl.create_default_context(cafile=pki["ca"])
        tls.load_cert_chain(*self._admin)
        try:
            return httpx.get(f"https://{self.ip}:{API_PORT}/readyz", verify=tls, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def mounts_under(*roots: Path) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted(p for p in points if any(p == str(r) or p.startswith(f"{r}/") for r in roots))


def node_ip() -> str:
    """The address of the interface the default route leaves by: the node's InternalIP."""
    route = subprocess.run(["ip", "-4", "route", "get", "192.0.2.200"], capture_output=True, text=True).stdout
    words = route.split()
    return words[words.index("src") + 1]


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> None:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "snoop",
              "clusters": [{"name": "snoop", "cluster": {"server": server, "certificate-authority": str(ca)}}],
              "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
              "contexts": [{"name": "snoop", "context": {"cluster": "snoop", "user": user}}]}
    path.write_text(json.dumps(config, indent=1))
