"""Containers that containerd runs outside the CRI (``ctr run``, nerdctl, Docker's ``moby`` namespace),
named by containerd's own API: namespace, container ID, image name and digest.

A cgroup of such a container is named after it: ``/default/web`` for ``ctr run`` (cgroupfs),
``/nerdctl.slice/nerdctl-<id>.scope``, ``/system.slice/docker-<id>.scope``. The candidates for its
namespace and ID are read from the path and asked of containerd, which knows or does not.
"""

from __future__ import annotations

import re

import grpc

from snoop.agent.containerd import containers_pb2, containers_pb2_grpc, images_pb2, images_pb2_grpc
from snoop.agent.events import ContainerRef

NAMESPACES = ("default", "moby")  # ctr's and nerdctl's default; Docker's
CRI_NAMESPACE = "k8s.io"  # the CRI's own containers are named through the CRI, with their pods
_SCOPE = re.compile(r"^(?:docker|nerdctl|cri-containerd|crio)-(.+?)(?:\.scope)?$")
KIND = "Container"  # no pod, no controller: the container is its own workload


def candidates(cgroup_path: str) -> list[tuple[str, str]]:
    """(namespace, container ID) pairs a cgroup path may name, the likeliest first."""
    parts = [p for p in cgroup_path.split("/") if p]
    if not parts:
        return []
    match = _SCOPE.match(parts[-1])
    container_id = match.group(1) if match else parts[-1]
    namespaces = ([parts[-2]] if len(parts) >= 2 and not match else []) + list(NAMESPACES)
    return [(ns, container_id) for ns in dict.fromkeys(namespaces) if ns != CRI_NAMESPACE]


class ContainerdClient:
    """Asks containerd's Containers and Images services, on the socket the CRI also serves."""

    def __init__(self, endpoint: str, *, timeout_s: float = 2.0) -> None:
        self._channel = grpc.insecure_channel(endpoint)
        self._containers = containers_pb2_grpc.ContainersStub(self._channel)
        self._images = images_pb2_grpc.ImagesStub(self._channel)
        self._timeout = timeout_s

    def identify(self, cgroup_path: str) -> ContainerRef | None:
        """The container the cgroup belongs to, or None when containerd knows none of its candidates.
        A containerd that cannot be reached raises grpc.RpcError."""
        for namespace, container_id in candidates(cgroup_path):
            metadata = (("containerd-namespace", namespace),)
            try:
                container = self._containers.Get(containers_pb2.GetContainerRequest(id=container_id),
                                                 metadata=metadata, timeout=self._timeout).container
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    continue
                raise
            digest = ""
            if container.image:
                try:
                    digest = self._images.Get(images_pb2.GetImageRequest(name=container.image), metadata=metadata,
                                              timeout=self._timeout).image.target.digest
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.NOT_FOUND:  # the image was removed: keep its name
                        raise
            return ContainerRef(
                container_id=container_id, name=container_id, pod_name=container_id, pod_namespace=namespace,
                pod_uid="", image_reference=container.image, image_digest=digest or container.image,
                image_id="", cgroup_path=cgroup_path, workload_kind=KIND, workload_name=container_id,
            )
        return None

    def close(self) -> None:
        self._channel.close()
