"""An image's layers as containerd stores them: its manifest by digest, then each layer blob as a stream,
through containerd's Content service on the socket the CRI also serves. Any snapshotter, no mount, no
capability beyond reaching that socket.

The digest the CRI reports is the repository digest: a manifest, or an index of manifests for several
platforms (this node's is taken). Where a runtime reports only the image ID (the config's digest), the
image is found by its name through the Images service.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from snoop.agent.containerd import content_pb2, content_pb2_grpc, images_pb2, images_pb2_grpc

NAMESPACES = ("k8s.io", "default", "moby")  # the CRI's, ctr's and nerdctl's, Docker's
MAX_MANIFEST_BYTES = 4 * 2**20
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


class ContentError(Exception):
    """The image's layers cannot be read from the content store; the message says why."""


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int


class ContentStore:
    def __init__(self, endpoint: str, namespace: str, *, timeout_s: float = 600.0) -> None:
        self._channel = grpc.insecure_channel(endpoint)
        self._content = content_pb2_grpc.ContentStub(self._channel)
        self._images = images_pb2_grpc.ImagesStub(self._channel)
        self._metadata = (("containerd-namespace", namespace),)
        self._timeout = timeout_s

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(self, *_: object) -> None:
        self._channel.close()

    def has(self, digest: str) -> bool:
        try:
            self._content.Info(content_pb2.InfoRequest(digest=digest), metadata=self._metadata, timeout=10)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return False
            raise
        return True

    def stream(self, digest: str) -> Iterator[bytes]:
        """The blob's bytes as containerd sends them (in pieces of about 1 MiB)."""
        for piece in self._content.Read(content_pb2.ReadContentRequest(digest=digest), metadata=self._metadata,
                                        timeout=self._timeout):
            yield piece.data

    def document(self, digest: str) -> dict[str, Any]:
        data = b""
        for piece in self.stream(digest):
            data += piece
            if len(data) > MAX_MANIFEST_BYTES:
                raise ContentError(f"{digest} is over {MAX_MANIFEST_BYTES} bytes: not a manifest")
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise ContentError(f"{digest} is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ContentError(f"{digest} is not a JSON object")
        return doc

    def target(self, name: str) -> str | None:
        """The digest an image name points at (a manifest or an index), or None."""
        try:
            return self._images.Get(images_pb2.GetImageRequest(name=name), metadata=self._metadata,
                                    timeout=10).image.target.digest or None
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


def this_platform() -> tuple[str, str]:
    return "linux", ARCH.get(platform.machine(), platform.machine())


def _platform_manifest(index: dict[str, Any], digest: str) -> str:
    os_name, arch = this_platform()
    for m in index.get("manifests") or []:
        p = m.get("platform") or {}
        if p.get("os", os_name) == os_name and p.get("architecture", arch) == arch and m.get("digest"):
            return m["digest"]
    raise ContentError(f"the index {digest} lists no manifest for {os_name}/{arch}")


def image_manifest(store: ContentStore, digest: str, reference: str = "") -> tuple[str, dict[str, Any]]:
    """(digest, document) of the manifest of the image ``digest`` (a manifest, an index, or the config's
    digest with the image's ``reference``)."""
    doc = store.document(digest) if store.has(digest) else None
    if doc is None or "rootfs" in doc:  # absent, or the config: find the manifest by the image's name
        named = store.target(reference) if reference else None
        if named is None:
            raise ContentError(f"containerd holds no manifest for {digest}"
                               + (f" nor an image named {reference}" if reference else ""))
        digest, doc = named, store.document(named)
    if doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
        digest = _platform_manifest(doc, digest)
        doc = store.document(digest)
    return digest, doc


def image_layers(store: ContentStore, digest: str, reference: str = "") -> list[Layer]:
    """The layers of the image ``digest`` (as ``image_manifest`` finds it), bottom first. ContentError when
    the store does not hold them all."""
    digest, doc = image_manifest(store, digest, reference)
    layers = [Layer(str(layer.get("digest", "")), str(layer.get("mediaType", "")), int(layer.get("size", 0)))
              for layer in doc.get("layers") or [] if isinstance(layer, dict)]
    if not layers or not all(layer.digest for layer in layers):
        raise ContentError(f"the manifest {digest} names no layers")
    missing = [layer.digest for layer in layers if not store.has(layer.digest)]
    if missing:
        raise ContentError(f"containerd no longer holds layer {missing[0]} of {digest} (of {len(missing)} missing)")
    return layers
