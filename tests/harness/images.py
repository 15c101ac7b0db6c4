"""Container images built offline: a busybox-static rootfs (or any directory tree) -> OCI layout with
umoci -> tar. No registry, no network; the result imports into containerd like a pulled image."""

from __future__ import annotations

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
