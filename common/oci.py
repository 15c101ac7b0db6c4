"""OCI image layouts written directly: one uncompressed layer per directory, bottom first. No registry,
no build tool; the tar imports into containerd (``ctr images import``) like a pulled image.

Each layer is tarred as it is, so OCI whiteouts (``.wh.NAME``, ``.wh..wh..opq``) are plain empty files
in it. Used by ``snoop demo`` and by the tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

# Labels (and manifest annotations) of a slim image snoop built: its base, and the evidence it rests on.
BASE_DIGEST = "org.opencontainers.image.base.digest"
BASE_NAME = "org.opencontainers.image.base.name"
SLIM_EVIDENCE = "io.snoop.slim.evidence"

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(layout: Path, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _reproducible(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Times fixed: the same tree gives the same layer, and so the same image digest, every time."""
    info.mtime = 0
    return info


def layout_tar(layers: list[Path], work: Path, *, cmd: list[str], tag: str = "latest",
               runtime: dict[str, Any] | None = None) -> Path:
    """An OCI layout tarball of ``layers`` (directories, bottom first) under ``work``; returns its path.
    ``runtime``: more of the config's ``config`` (``Entrypoint``, ``User``, ``WorkingDir``, ``Env``, …)."""
    layout = work / "layout"
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs" / "sha256").mkdir(parents=True)
    descriptors = []
    for layer in layers:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(layer.rglob("*")):
                tar.add(entry, arcname=str(entry.relative_to(layer)), recursive=False, filter=_reproducible)
        descriptors.append(_blob(layout, buf.getvalue(), LAYER))
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd, **(runtime or {})},
              "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]}}
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": _blob(layout, json.dumps(config).encode(), CONFIG), "layers": descriptors}
    top = _blob(layout, json.dumps(manifest).encode(), MANIFEST)
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    tar_path = work / f"{tag}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in sorted(os.listdir(layout)):
            tar.add(layout / name, arcname=name)
    return tar_path


def manifest_digest(tar_path: Path) -> str:
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return json.load(member)["manifests"][0]["digest"]
