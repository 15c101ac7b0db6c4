"""A kubelet's part, for the fields snoop's manifests use: a pod template becomes the CRI sandbox and container
configs a kubelet would send, and its probes the URLs a kubelet would poll.

Used by bench/images.py, to measure the images as the manifests run them with no cluster's own processes in the
figures; tests/cluster runs them on a real kubelet. Every field of a pod template is translated, or named below as
the scheduler's or a controller's. Anything else raises UnknownField, so a manifest cannot grow a field the
benchmark does not run.

What this node cannot provide is stood in for, each by name in ``Node``: no CNI (every pod shares the node's
network), no cluster DNS (a Service's name is an /etc/hosts line for 127.0.0.1), no API server (its URL points at
tests/harness/fake_kube_api, a FAKE), and hostPaths this machine keeps elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snoop.agent.cri import cri_api_pb2 as cri
from tests.conftest import wait_http
from tests.harness.containerd import Containerd, Pod

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
CAPABILITY_BITS = {"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "PERFMON": 38,
                   "BPF": 39}  # linux/capability.h, for the names the manifests use
# Fields a kubelet never acts on: the scheduler's and the workload controllers'.
NOT_THE_KUBELETS = {"priorityClassName", "tolerations", "affinity"}


class UnknownField(AssertionError):
    """A manifest field this translation does not know: teach it here, or the benchmark stops running it."""


@dataclass
class Node:
    """This machine in the role of a cluster node, with every stand-in named."""

    name: str
    scratch: Path                       # emptyDirs, the hosts file, container logs
    host_paths: dict[str, str] = field(default_factory=dict)    # a manifest's hostPath -> where it is here
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)  # (secret, key) -> value
    services: tuple[str, ...] = ()      # Service names that resolve to this node (cluster DNS stand-in)
    urls: dict[str, str] = field(default_factory=dict)          # in env values: cluster URL -> this node's
    service_account: Path | None = None  # a folder with the token a kubelet would project
    # Capabilities outside this machine's bounding set: no runtime can grant them here (runc fails "unable to
    # apply caps"), so they are left out, as they would have to be on such a node.
    cannot_grant: frozenset[str] = field(default_factory=lambda: withheld_by_this_machine())


def withheld_by_this_machine() -> frozenset[str]:
    (line,) = [x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("CapBnd:")]
    bounding = int(line.split()[1], 16)
    return frozenset(name for name, bit in CAPABILITY_BITS.items() if not bounding >> bit & 1)


@dataclass
class Probe:
    url: str
    timeout_s: float  # how long a kubelet waits before it gives up (restarts or marks unready)


@dataclass
class Container:
    config: cri.ContainerConfig
    probes: dict[str, Probe]  # "startupProbe" / "readinessProbe" / "livenessProbe"
    grace_s: int


@dataclass
class PodPlan:
    sandbox: cri.PodSandboxConfig
    containers: list[Container]


def known(where: str, fields: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise UnknownField(f"{where}: {sorted(unknown)} not translated by tests/deploy/kubelet.py")


def quantity(value: str | int) -> float:
    """Kubernetes quantities: 50m, 256Mi, 1Gi, 2."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?", str(value))
    if not m:
        raise UnknownField(f"quantity {value!r}")
    scale = {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(m.group(1)) * scale[m.group(2)]


def plan(template: dict[str, Any], name: str, namespace: str, uid: str, node: Node) -> PodPlan:
    known("template", template, {"metadata", "spec"})
    meta, spec = template["metadata"], template["spec"]
    known("template.metadata", meta, {"labels", "annotations"})
    known("spec", spec, NOT_THE_KUBELETS | {"containers", "volumes", "hostPID", "securityContext",
                                            "serviceAccountName", "automountServiceAccountToken",
                                            "terminationGracePeriodSeconds",
                                            "enableServiceLinks"})  # this translation injects no Service variables
    pod_security = spec.get("securityContext", {})
    known("spec.securityContext", pod_security, {"runAsNonRoot", "runAsUser", "seccompProfile"})
    labels = {**meta.get("labels", {}), "io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
              "io.kubernetes.pod.uid": uid}
    pid = cri.NODE if spec.get("hostPID") else cri.CONTAINER
    sandbox = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace=namespace, uid=uid),
        log_directory=str(node.scratch / "logs" / uid), labels=labels, annotations=meta.get("annotations", {}),
        linux=cri.LinuxPodSandboxConfig(security_context=cri.LinuxSandboxSecurityContext(
            namespace_options=cri.NamespaceOption(network=cri.NODE, pid=cri.NODE if pid == cri.NODE else cri.POD),
            seccomp=seccomp(pod_security))),
    )
    mounts = volumes(spec, node)
    if spec.get("serviceAccountName") and spec.get("automountServiceAccountToken", True):
        assert node.service_account is not None, "the pod wants a service account token; the node has none"
        mounts["kube-api-access"] = cri.Mount(container_path=SERVICE_ACCOUNT, host_path=str(node.service_account),
                                              readonly=True)
    hosts = node.scratch / "hosts"
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"127.0.0.1 {s} {s}.{namespace}.svc\n" for s in node.services))
    grace = int(spec.get("terminationGracePeriodSeconds", 30))
    containers = [container(c, pod_security, pid, labels, mounts, hosts, grace, node)
                  for c in spec["containers"]]
    return PodPlan(sandbox, containers)


def seccomp(security: dict[str, Any]) -> cri.SecurityProfile | None:
    profile = security.get("seccompProfile")
    if profile is None:
        return None
    known("seccompProfile", profile, {"type"})
    if profile["type"] != "RuntimeDefault":
        raise UnknownField(f"seccompProfile {profile}")
    return cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)


def volumes(spec: dict[str, Any], node: Node) -> dict[str, cri.Mount]:
    """Volume name -> its host side (container_path is filled per volumeMount)."""
    out = {}
    for v in spec.get("volumes", []):
        known(f"volume {v['name']}", v, {"name", "hostPath", "emptyDir"})
        if "hostPath" in v:
            known("hostPath", v["hostPath"], {"path", "type"})
            path, kind = v["hostPath"]["path"], v["hostPath"].get("type", "")
            here = Path(node.host_paths.get(path, path))
            if kind == "DirectoryOrCreate":
                here.mkdir(parents=True, exist_ok=True)
            checks = {"Directory": here.is_dir, "DirectoryOrCreate": here.is_dir, "Socket": here.is_socket}
            if kind not in checks:
                raise UnknownField(f"hostPath type {kind!r}")
            assert checks[kind](), f"hostPath {path} ({here} here) is not a {kind}: the kubelet would not start it"
            out[v["name"]] = cri.Mount(host_path=str(here))
        else:
            known("emptyDir", v["emptyDir"], set())
            empty = node.scratch / "empty-dirs" / v["name"]
            empty.mkdir(parents=True, exist_ok=True)
            empty.chmod(0o777)  # as the kubelet makes them: writable by any uid the pod runs as
            out[v["name"]] = cri.Mount(host_path=str(empty))
    return out


def container(c: dict[str, Any], pod_security: dict[str, Any], pid: cri.NamespaceMode, labels: dict[str, str],
              volume_mounts: dict[str, cri.Mount], hosts: Path, grace: int, node: Node) -> Container:
    known(f"container {c['name']}", c, {"name", "image", "imagePullPolicy", "command", "args", "env", "ports",
                                        "livenessProbe", "readinessProbe", "startupProbe", "resources",
                                        "securityContext", "volumeMounts"})
    assert c.get("imagePullPolicy", "IfNotPresent") == "IfNotPresent", "images are imported, never pulled, here"
    mounts = [cri.Mount(container_path="/etc/hosts", host_path=str(hosts), readonly=False)]
    for m in c.get("volumeMounts", []):
        known("volumeMount", m, {"name", "mountPath", "readOnly"})
        mounts.append(cri.Mount(container_path=m["mountPath"], host_path=volume_mounts[m["name"]].host_path,
                                readonly=bool(m.get("readOnly"))))
    if "kube-api-access" in volume_mounts:
        mounts.append(volume_mounts["kube-api-access"])
    ports = {}
    for p in c.get("ports", []):
        known("port", p, {"name", "containerPort"})
        ports[p.get("name", str(p["containerPort"]))] = p["containerPort"]
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=c["name"]), image=cri.ImageSpec(image=c["image"]),
        command=c.get("command", []), args=c.get("args", []), envs=environment(c, node), mounts=mounts,
        labels={**labels, "io.kubernetes.container.name": c["name"]}, log_path=f"{c['name']}/0.log",
        linux=cri.LinuxContainerConfig(resources=resources(c.get("resources", {})),
                                       security_context=security_context(c, pod_security, pid, node)),
    )
    return Container(config, {kind: probe(c[kind], ports) for kind in ("startupProbe", "readinessProbe",
                                                                       "livenessProbe") if kind in c}, grace)


def environment(c: dict[str, Any], node: Node) -> list[cri.KeyValue]:
    """As the kubelet sets it: the downward API's node name, secrets (optional ones may be absent)."""
    env = []
    for var in c.get("env", []):
        known(f"env {var['name']}", var, {"name", "value", "valueFrom"})
        if "value" in var:
            value = var["value"]
            for cluster, here in node.urls.items():
                value = value.replace(cluster, here)
        else:
            (source, ref), = var["valueFrom"].items()
            if source == "fieldRef":
                known("fieldRef", ref, {"fieldPath"})
                if ref["fieldPath"] != "spec.nodeName":
                    raise UnknownField(f"fieldRef {ref['fieldPath']}")
                value = node.name
            elif source == "secretKeyRef":
                known("secretKeyRef", ref, {"name", "key", "optional"})
                if (ref["name"], ref["key"]) not in node.secrets:
                    assert ref.get("optional"), f"secret {ref['name']}/{ref['key']} is required; the node has none"
                    continue
                value = node.secrets[ref["name"], ref["key"]]
            else:
                raise UnknownField(f"valueFrom {source}")
        env.append(cri.KeyValue(key=var["name"], value=value))
    return env


def resources(r: dict[str, Any]) -> cri.LinuxContainerResources:
    """The kubelet's arithmetic: requests.cpu -> shares, limits.cpu -> CFS quota, limits.memory -> the limit."""
    known("resources", r, {"requests", "limits"})
    for part in r.values():
        known("resources.*", part, {"cpu", "memory"})
    out = cri.LinuxContainerResources(cpu_shares=max(2, int(quantity(r.get("requests", {}).get("cpu", 0)) * 1024)))
    limits = r.get("limits", {})
    if "cpu" in limits:
        out.cpu_period = 100_000
        out.cpu_quota = int(quantity(limits["cpu"]) * 100_000)
    if "memory" in limits:
        out.memory_limit_in_bytes = int(quantity(limits["memory"]))
    return out


def security_context(c: dict[str, Any], pod_security: dict[str, Any], pid: cri.NamespaceMode,
                     node: Node) -> cri.LinuxContainerSecurityContext:
    sc = c.get("securityContext", {})
    known(f"container {c['name']} securityContext", sc, {"privileged", "allowPrivilegeEscalation",
                                                        "readOnlyRootFilesystem", "capabilities", "seccompProfile",
                                                        "runAsUser", "runAsNonRoot"})
    caps = sc.get("capabilities", {})
    known("capabilities", caps, {"add", "drop"})
    unknown = set(caps.get("add", [])) - set(CAPABILITY_BITS)
    if unknown:
        raise UnknownField(f"capabilities {sorted(unknown)}")
    add = [cap for cap in caps.get("add", []) if cap not in node.cannot_grant]
    out = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(add_capabilities=add, drop_capabilities=caps.get("drop", [])),
        privileged=bool(sc.get("privileged")), namespace_options=cri.NamespaceOption(network=cri.NODE, pid=pid),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privs=not sc.get("allowPrivilegeEscalation", True),
    )
    profile = seccomp(sc) or seccomp(pod_security)
    if profile is not None:
        out.seccomp.CopyFrom(profile)
    else:
        out.seccomp.CopyFrom(cri.SecurityProfile(profile_type=cri.SecurityProfile.Unconfined))
    user = sc.get("runAsUser", pod_security.get("runAsUser"))
    if user is not None:
        out.run_as_user.value = int(user)
    if sc.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
        assert user not in (None, 0), "runAsNonRoot with no non-root runAsUser: the kubelet checks the image's user"
    return out


def probe(p: dict[str, Any], ports: dict[str, int]) -> Probe:
    known("probe", p, {"httpGet", "initialDelaySeconds", "periodSeconds", "failureThreshold"})
    get = p["httpGet"]
    known("httpGet", get, {"path", "port"})
    port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
    timeout = p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)
    return Probe(f"http://127.0.0.1:{port}{get['path']}", timeout)


# --- the kubelet at run time: start in order, probe, stop with the grace period -------------------------------
def start(containerd: Containerd, pod: PodPlan) -> Pod:
    running = containerd.run_configured(pod.sandbox, [c.config for c in pod.containers])
    for c in pod.containers:
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):  # the kubelet's order
            if kind in c.probes:
                wait_probe(containerd, running, c.config.metadata.name, c.probes[kind].url, c.probes[kind].timeout_s)
    return running


def wait_probe(containerd: Containerd, pod: Pod, name: str, url: str, timeout_s: float) -> None:
    def alive() -> None:
        status = containerd.status(pod.containers[name])
        assert status.state != cri.CONTAINER_EXITED, f"{name} exited {status.exit_code}: {log(containerd, pod, name)}"

    try:
        wait_http(url, timeout_s, alive=alive)
    except TimeoutError as e:
        raise AssertionError(f"{name}: {e} (the probe's limit): {log(containerd, pod, name)}") from None


def log(containerd: Containerd, pod: Pod, name: str) -> str:
    path = Path(containerd.status(pod.containers[name]).log_path)
    return path.read_text(errors="replace")[-3000:] if path.is_file() else "(no log)"


def process(containerd: Containerd, container_id: str) -> dict[str, str]:
    """The container's first process, from /proc: its status fields."""
    info = containerd.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=container_id, verbose=True),
                                              timeout=10).info
    pid = json.loads(info["info"])["pid"]
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines)}


def stop(containerd: Containerd, pod: Pod, grace_s: int) -> int:
    """As the kubelet deletes a pod: SIGTERM, the grace period, then the exit code."""
    (cid,) = pod.containers.values()
    containerd.runtime.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=grace_s), timeout=grace_s + 30)
    return containerd.wait_exited(cid, timeout_s=5)
