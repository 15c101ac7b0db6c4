"""Layer tarballs applied with the OCI rules against the kernel's own merge: the layers of
test_inventory_tree, written as an image's layer blobs (``.wh.`` files, ``.wh..wh..opq``, hard links,
gzip and plain), must show exactly what overlayfs shows when it mounts the same layers."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.layer_tree import LayerError, LayerTree
from snoop.agent.inventory.tree import ImageTree
from tests.agent.test_inventory_tree import layers, listing, write
from tests.conftest import require


def layer_blob(root: Path, *, compress: bool) -> bytes:
    """``root`` (an overlayfs layer directory) as an OCI layer: whiteouts and opaque markers as files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(root.rglob("*")):
            rel = str(entry.relative_to(root))
            st = entry.lstat()
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                info = tarfile.TarInfo(os.path.join(os.path.dirname(rel), ".wh." + entry.name))
                tar.addfile(info)
                continue
            tar.add(entry, arcname=rel, recursive=False)
            if entry.is_dir() and not entry.is_symlink():
                try:
                    is_opaque = os.getxattr(entry, "trusted.overlay.opaque") == b"y"
                except OSError:
                    is_opaque = False
                if is_opaque:
                    tar.addfile(tarfile.TarInfo(rel + "/.wh..wh..opq"))
    data = buf.getvalue()
    return gzip.compress(data) if compress else data


def pieces(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A blob as containerd's Read streams it: in pieces that cut tar headers anywhere."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_layer_tarballs_match_a_real_overlay_mount(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "overlay mounts and trusted.* xattrs need root")
    stack = layers(tmp_path)  # top first
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={':'.join(map(str, stack))}", str(mnt)],
                   check=True)
    try:
        kernel = listing(ImageTree([os.fsencode(mnt)], one_device=True))
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    tree = LayerTree()
    for n, layer in enumerate(reversed(stack)):  # bottom first, as a manifest lists them
        tree.apply(pieces(layer_blob(layer, compress=n % 2 == 0)), f"layer {n}")
    assert listing(tree) == kernel  # type: ignore[arg-type]
    one, hard = tree.lookup(b"/a/one"), tree.lookup(b"/a/one-hard")
    assert one is not None and hard is not None and one.st.st_ino == hard.st.st_ino and one.st.st_nlink == 2
    assert tree.resolve(b"/link") == b"/a/one" and tree.listdir(b"/d") == [b"new"]


def test_inventory_and_packages_from_layer_tarballs(tmp_path: Path) -> None:
    """The inventory reads what the image's package databases say, from the blobs alone."""
    base = tmp_path / "base"
    write(base, "usr/bin/tool", "t" * 100)
    write(base, "var/lib/dpkg/status", "Package: tool\nStatus: install ok installed\nVersion: 1.0\n"
                                       "Architecture: amd64\n")
    write(base, "var/lib/dpkg/info/tool.list", "/usr/bin/tool\n")
    top = tmp_path / "top"
    write(top, "usr/bin/added", "a" * 7)
    tree = LayerTree()
    for layer in (base, top):
        tree.apply(pieces(layer_blob(layer, compress=True)))
    chunks = list(inventory_chunks(tree, Upload("a", "sha256:" + "0" * 64, "x", "layers")))
    files = {f.path: f.size for c in chunks for f in c.files}
    assert {p: s for p, s in files.items() if p.startswith(b"/usr/")} == {b"/usr/bin/tool": 100,
                                                                           b"/usr/bin/added": 7}
    packages = [p for c in chunks for p in c.packages]
    assert [(p.name, list(p.files)) for p in packages] == [("tool", [b"/usr/bin/tool"])]
    assert chunks[-1].done.files == len(files)


def test_a_blob_that_is_no_tar_is_a_named_error() -> None:
    with pytest.raises(LayerError, match="sha256:bad: not a tar stream"):
        LayerTree().apply(pieces(b"\x28\xb5\x2f\xfd" + b"zstd?" * 200), "sha256:bad")
