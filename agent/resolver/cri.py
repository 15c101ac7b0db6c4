"""Container identity from the CRI: the runtime knows pods, containers and images; the kernel doesn't.

Called at container lifecycle time (a new cgroup shows up), never per event.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Protocol

import grpc

from snoop.agent.cri import cri_api_pb2 as cri
from snoop.agent.cri import cri_api_pb2_grpc as cri_grpc
from snoop.agent.events import ContainerRef
from snoop.common.oci import BASE_DIGEST, SLIM_EVIDENCE
from snoop.common.workload import workload_of

# Labels a kubelet sets on every container it creates.
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"


class RuntimeClient(Protocol):
    def list_containers(self) -> list[ContainerRef]: ...


def image_digest(image_ref: str, image_id: str) -> str:
    """The repository (manifest) digest when the runtime reports one, else the image ID."""
    if "@" in image_ref:
        return image_ref.rsplit("@", 1)[1]
    if image_ref.startswith("sha256:"):
        return image_id or image_ref
    return image_id


def ref_from_status(status: cri.ContainerStatus, info: dict[str, str], listed_image_ref: str = "") -> ContainerRef:
    """Pure: builds the identity from ContainerStatus(verbose) as containerd and CRI-O answer it.

    ``listed_image_ref`` is ListContainers' image_ref: the image ID on containerd 1.6, whose
    ContainerStatus has no image_id field yet."""
    labels = status.labels
    extra = json.loads(info.get("info", "{}") or "{}")
    annotations = (extra.get("runtimeSpec") or {}).get("annotations") or {}
    reference = status.image.image
    if not reference or reference.startswith("sha256:"):
        reference = annotations.get("io.kubernetes.cri.image-name", reference)
    pod_name = labels.get(POD_NAME, annotations.get("io.kubernetes.cri.sandbox-name", ""))
    kind, name = workload_of(pod_name)
    return ContainerRef(
        container_id=status.id,
        name=labels.get(CONTAINER_NAME, status.metadata.name),
        pod_name=pod_name,
        pod_namespace=labels.get(POD_NAMESPACE, annotations.get("io.kubernetes.cri.sandbox-namespace", "")),
        pod_uid=labels.get(POD_UID, annotations.get("io.kubernetes.cri.sandbox-uid", "")),
        image_reference=reference,
        image_digest=image_digest(status.image_ref, status.image_id or listed_image_ref),
        image_id=status.image_id or next(
            (r for r in (listed_image_ref, status.image_ref) if r.startswith("sha256:")), ""
        ),
        cgroup_path=((extra.get("runtimeSpec") or {}).get("linux") or {}).get("cgroupsPath", ""),
        workload_kind=kind,
        workload_name=name,
        started_at_ns=status.started_at or status.created_at,
        mounts=tuple(sorted(m.container_path for m in status.mounts)),
    )


class CriClient:
    """RuntimeClient over the CRI gRPC socket (containerd, CRI-O)."""

    def __init__(self, endpoint: str, *, timeout_s: float = 5.0) -> None:
        self._channel = grpc.insecure_channel(endpoint)
        self._runtime = cri_grpc.RuntimeServiceStub(self._channel)
        self._images = cri_grpc.ImageServiceStub(self._channel)
        self._timeout = timeout_s
        self._known: dict[str, ContainerRef] = {}
        self._bases: dict[str, str] = {}  # image id -> its base's digest when it is a slim image, else ""

    def version(self) -> str:
        v = self._runtime.Version(cri.VersionRequest(), timeout=self._timeout)
        return f"{v.runtime_name} {v.runtime_version} (CRI {v.runtime_api_version})"

    def list_containers(self) -> list[ContainerRef]:
        listed = self._runtime.ListContainers(cri.ListContainersRequest(), timeout=self._timeout).containers
        refs = []
        for c in listed:
            ref = self._known.get(c.id)
            if ref is None:
                try:
                    resp = self._runtime.ContainerStatus(
                        cri.ContainerStatusRequest(container_id=c.id, verbose=True), timeout=self._timeout
                    )
                except grpc.RpcError as exc:
                    if exc.code() == grpc.StatusCode.NOT_FOUND:  # removed between list and status
                        continue
                    raise
                ref = ref_from_status(resp.status, dict(resp.info), c.image_ref)
                ref = self._known[c.id] = dataclasses.replace(ref, slim_base=self._slim_base(ref.image_id))
            refs.append(ref)
        live = {c.id for c in listed}
        for gone in set(self._known) - live:
            del self._known[gone]
        return refs

    def _slim_base(self, image_id: str) -> str:
        """The base's digest when the image is a slim image snoop built (its config's labels), else "";
        asked once per image."""
        if not image_id:
            return ""
        if image_id not in self._bases:
            try:
                resp = self._images.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=image_id),
                                                                       verbose=True), timeout=self._timeout)
                info = json.loads(resp.info.get("info", "{}") or "{}")
            except (grpc.RpcError, ValueError):
                return ""  # asked again next time
            labels = ((info.get("imageSpec") or {}).get("config") or {}).get("Labels") or {}
            self._bases[image_id] = labels.get(BASE_DIGEST, "") if SLIM_EVIDENCE in labels else ""
        return self._bases[image_id]

    def close(self) -> None:
        self._channel.close()
