"""Where a base image's manifest, config and layers come from: containerd's content store (where it runs)
or an OCI layout directory (what ``skopeo copy`` writes). Layers are streamed, never held whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc

from snoop.agent.inventory.content import (
    INDEX_TYPES,
    ContentError,
    ContentStore,
    Layer,
    image_layers,
    image_manifest,
    this_platform,
)

PIECE = 1 << 20


class SourceError(Exception):
    """The base image cannot be read; the message says why."""


@dataclass(frozen=True)
class Base:
    digest: str                 # the manifest's
    config: dict[str, Any]
    layers: list[Layer]         # bottom first


class Source(Protocol):
    def base(self) -> Base: ...
    def stream(self, digest: str) -> Iterator[bytes]: ...


class LayoutSource:
    """An OCI image layout: ``index.json`` and ``blobs/sha256/…``; the manifest for ``digest`` (or this
    platform's, or the only one)."""

    def __init__(self, root: Path, digest: str) -> None:
        self._root = root
        self._digest = digest

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        path = self._root / "blobs" / algorithm / hexdigest
        if not hexdigest or "/" in hexdigest or not path.is_file():
            raise SourceError(f"{self._root}: no blob {digest}")
        return path

    def _document(self, digest: str) -> dict[str, Any]:
        try:
            return json.loads(self._blob_path(digest).read_bytes())
        except ValueError as exc:
            raise SourceError(f"{self._root}: blob {digest} is not JSON: {exc}") from exc

    def _manifest_digest(self) -> str:
        try:
            index = json.loads((self._root / "index.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise SourceError(f"{self._root}: not an OCI layout ({exc})") from exc
        manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
        for m in manifests:
            if m.get("digest") == self._digest:
                return self._digest
        os_name, arch = this_platform()
        candidates = []
        for m in manifests:
            if m.get("mediaType") in INDEX_TYPES:
                nested = self._document(m["digest"])
                candidates += [n for n in nested.get("manifests") or []
                               if (n.get("platform") or {}).get("architecture", arch) == arch]
            elif (m.get("platform") or {}).get("os", os_name) == os_name:
                candidates.append(m)
        if any(c.get("digest") == self._digest for c in candidates):
            return self._digest
        if len(candidates) == 1:
            return str(candidates[0]["digest"])
        raise SourceError(f"{self._root}: holds {len(candidates)} manifests, none of them {self._digest}")

    def base(self) -> Base:
        digest = self._manifest_digest()
        manifest = self._document(digest)
        config = self._document(manifest["config"]["digest"])
        layers = [Layer(la["digest"], la.get("mediaType", ""), int(la.get("size", 0)))
                  for la in manifest.get("layers") or []]
        for layer in layers:
            self._blob_path(layer.digest)
        return Base(digest, config, layers)

    def stream(self, digest: str) -> Iterator[bytes]:
        with open(self._blob_path(digest), "rb") as f:
            while piece := f.read(PIECE):
                yield piece


class ContainerdSource:
    """The image's blobs in containerd's content store (``namespace``), found by digest or reference."""

    def __init__(self, endpoint: str, namespace: str, digest: str, reference: str) -> None:
        self._store = ContentStore(endpoint, namespace)
        self._digest = digest
        self._reference = reference
        self._endpoint = endpoint

    def base(self) -> Base:
        try:
            digest, manifest = image_manifest(self._store, self._digest, self._reference)
            layers = image_layers(self._store, digest)
            config = self._store.document(manifest["config"]["digest"])
        except ContentError as exc:
            raise SourceError(str(exc)) from exc
        except grpc.RpcError as exc:
            raise SourceError(f"containerd at {self._endpoint}: {exc.code().name} {exc.details()}") from exc
        return Base(digest, config, layers)

    def stream(self, digest: str) -> Iterator[bytes]:
        try:
            yield from self._store.stream(digest)
        except grpc.RpcError as exc:
            raise SourceError(f"containerd at {self._endpoint}: reading {digest}: {exc.code().name}") from exc
