"""Image contents end to end: real images run through the CRI, inventoried by the agent from
containerd's overlayfs layers, and read back as summary, packages and remove list."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from snoop.common.oci import layout_tar
from tests.conftest import eventually
from tests.e2e.conftest import Stack
from tests.harness.containerd import Containerd
from tests.harness.images import busybox_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

PYTHON_WORKLOAD = ("import sqlite3, time\n"
                   "sqlite3.connect(':memory:').execute('select 1')\n"
                   "open('/tmp/written-at-run-time', 'w').write('x')\n"
                   "time.sleep(600)\n")


def summary_when(base: str, digest: str, ready: Callable[[dict], bool], timeout_s: float,
                 what: Callable[[], str] = str) -> dict:
    """The image's summary once ``ready`` says so; asked every half second."""
    last: dict = {}

    def answered() -> dict | None:
        nonlocal last
        r = httpx.get(f"{base}/api/v1/images/{digest}/summary", timeout=10)
        last = r.json() if r.status_code == 200 else {}
        return last if last and ready(last) else None

    return eventually(answered, timeout_s, every_s=0.5, what=lambda: f"no inventory of {digest}: {last}\n{what()}")


def wait_summary(stack: Stack, digest: str, timeout_s: float = 120) -> dict:
    return summary_when(stack.base, digest, lambda body: body["inventory"]["files"] is not None, timeout_s,
                        what=lambda: stack.agent.output()[-3000:])


def walk(root: Path) -> tuple[set[str], int]:
    """Files and symlinks of a root filesystem, and its bytes with each hard-linked inode once."""
    paths: set[str] = set()
    inodes: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            full = os.path.join(directory, name)
            st = os.lstat(full)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            paths.add("/" + os.path.relpath(full, root))
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in inodes:
                inodes.add((st.st_dev, st.st_ino))
                total += st.st_size
    return paths, total


def test_debian_image_inventory_packages_and_usage(stack: Stack, containerd: Containerd, debian_rootfs: Path) -> None:
    image = containerd.import_image("debian-python", rootfs=debian_rootfs, cmd=["/usr/bin/python3"])
    pod = containerd.run_pod("py-7d4f8b9c5d-abcde", {"app": (image, ["/usr/bin/python3", "-c", PYTHON_WORKLOAD])})
    try:
        stack.wait_files(image.digest, {"/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"}, timeout_s=60)
        summary = wait_summary(stack, image.digest)
        paths, total = walk(debian_rootfs)
        assert summary["inventory"] == {"files": len(paths), "bytes": total, "source": "layers"}
        listed = httpx.get(f"{stack.base}/api/v1/images/{image.digest}/files",
                           params={"used": "false", "format": "text"}, timeout=30).content.decode().splitlines()
        used = {f for f, v in stack.files(image.digest).items() if v["size"] is not None}
        assert set(listed) | used == paths and not set(listed) & used  # unused + used = the image
        assert summary["used"]["files"] == len(used) and summary["unused"]["files"] == len(listed)

        packages = httpx.get(f"{stack.base}/api/v1/images/{image.digest}/packages", timeout=30).json()["packages"]
        by_name = {p["name"]: p for p in packages}
        assert by_name["libsqlite3-0"]["used"] and by_name["libsqlite3-0"]["used_bytes"] > 1_000_000
        assert by_name["python3.11-minimal"]["used"]
        assert not by_name["apt"]["used"] and by_name["apt"]["files"] > 10  # never run by the workload
        assert summary["packages"]["total"] == len(packages) > 80
        assert summary["packages"]["used"] == sum(p["used"] for p in packages)
        sqlite = stack.files(image.digest)["/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"]
        assert sqlite["package"] == "libsqlite3-0" and sqlite["size"] > 1_000_000

        # written at run time: used, not the image's
        stack.wait_files(image.digest, {"/tmp/written-at-run-time"})
        assert "/tmp/written-at-run-time" not in listed
        assert wait_summary(stack, image.digest)["runtime_created"]["files"] >= 1
        assert stack.metric("snoop_inventories_layers_total") >= 1
    finally:
        containerd.remove_pod(pod)


LAYERED_GONE = {"/etc/removed", "/opt/old", "/opt/sub/older"}  # a whiteout, and an opaque directory's below
LAYERED_NEW = {"/opt/new", "/srv/added"}


def layered_image(tmp_path: Path) -> tuple[Path, Path]:
    """(base layer, OCI layout tar) of a busybox base and a top layer with a whiteout and an opaque directory."""
    base = busybox_rootfs(tmp_path / "base")
    for rel in ("etc/removed", "opt/old", "opt/sub/older", "srv/kept"):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text("base\n")
    top = tmp_path / "top"
    for rel in ("etc/.wh.removed", "opt/.wh..wh..opq", "opt/new", "srv/added"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text("" if "/.wh." in "/" + rel else "top\n")
    return base, layout_tar([base, top], tmp_path, cmd=["/bin/sleep", "600"])


def test_layers_with_whiteouts_and_an_opaque_directory(stack: Stack, containerd: Containerd, tmp_path: Path) -> None:
    base, tar = layered_image(tmp_path)
    image = containerd.import_image("layered", tar=tar)
    command = ["/bin/sh", "-c", "cat /srv/added; sleep 600"]
    pod = containerd.run_pod("layered-7d4f8b9c5d-abcde", {"app": (image, command)})
    try:
        summary = wait_summary(stack, image.digest)
        listed = set(httpx.get(f"{stack.base}/api/v1/images/{image.digest}/files",
                               params={"used": "false", "format": "text"}, timeout=10).text.splitlines())
        used = {f for f, v in stack.wait_files(image.digest, {"/srv/added"}).items() if v["size"] is not None}
        base_paths, _ = walk(base)
        expected = base_paths - LAYERED_GONE | LAYERED_NEW
        assert listed | used == expected
        assert summary["inventory"]["files"] == len(expected) and summary["inventory"]["source"] == "layers"
    finally:
        containerd.remove_pod(pod)
