"""Container images built offline: a busybox-static rootfs (or any directory tree) -> OCI layout with
umoci -> tar. No registry, no network; the result imports into containerd like a pulled image."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "cat", "ls", "sleep", "echo", "true", "stat", "readlink", "head", "touch", "mkdir", "ln",
           "env", "test", "[", "sed", "wc", "find", "cd", "pwd", "realpath")


def busybox_rootfs(root: Path) -> Path:
    """A minimal rootfs: static busybox, its applets as symlinks, /etc/passwd."""
    (root / "bin").mkdir(parents=True, exist_ok=True)
    for d in ("etc", "tmp", "proc", "sys", "dev", "app"):
        (root / d).mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        link = root / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


def build_image(rootfs: Path, work: Path, *, tag: str = "latest", cmd: list[str] | None = None) -> Path:
    """OCI layout tarball of ``rootfs``; returns the tar's path."""
    layout = work / "layout"
    if layout.exists():
        shutil.rmtree(layout)
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "insert", "--image", f"{layout}:{tag}", str(rootfs), "/")
    config = ["umoci", "config", "--image", f"{layout}:{tag}"]
    for arg in cmd or ["/bin/sh"]:
        config += ["--config.cmd", arg]
    run(*config)
    tar_path = work / "image.tar"
    with tarfile.open(tar_path, "w") as tar:
        for entry in sorted(os.listdir(layout)):
            tar.add(layout / entry, arcname=entry)
    return tar_path


def manifest_digest(tar_path: Path) -> str:
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return json.load(member)["manifests"][0]["digest"]


def _blob(layout: Path, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def layered_image(layers: list[Path], work: Path, *, cmd: list[str], tag: str = "latest") -> Path:
    """OCI layout tarball with one uncompressed layer per directory, bottom first, each tarred as it is:
    OCI whiteouts (``.wh.NAME``, ``.wh..wh..opq``) are plain empty files in it. Returns the tar's path."""
    layout = work / "layered"
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs" / "sha256").mkdir(parents=True)
    descriptors = []
    for layer in layers:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(layer.rglob("*")):
                tar.add(entry, arcname=str(entry.relative_to(layer)), recursive=False)
        descriptors.append(_blob(layout, buf.getvalue(), "application/vnd.oci.image.layer.v1.tar"))
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd},
              "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]}}
    media_type = "application/vnd.oci.image.manifest.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": media_type,
                "config": _blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": descriptors}
    top = _blob(layout, json.dumps(manifest).encode(), media_type)
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    tar_path = work / "layered.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in sorted(os.listdir(layout)):
            tar.add(layout / name, arcname=name)
    return tar_path
