"""The layer merge against the kernel's own: the same layers mounted as overlayfs must show exactly what
ImageTree reads from them, whiteouts and opaque directories included."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from snoop.agent.inventory.layers import locate, lower_layers, root_mount
from snoop.agent.inventory.tree import ImageTree
from tests.conftest import require


def write(root: Path, rel: str, data: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)


def whiteout(root: Path, rel: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def opaque(root: Path, rel: str) -> None:
    (root / rel).mkdir(parents=True, exist_ok=True)
    os.setxattr(root / rel, "trusted.overlay.opaque", b"y")


def layers(tmp: Path) -> list[Path]:
    bottom, middle, top = tmp / "bottom", tmp / "middle", tmp / "top"
    for f in ("a/one", "a/sub/deep", "b/keep", "b/drop", "c", "d/old/x", "d/old2", "e/f/g", "big"):
        write(bottom, f)
    (bottom / "link").symlink_to("a/one")
    os.link(bottom / "a/one", bottom / "a/one-hard")
    whiteout(middle, "b/drop")       # a file deleted
    opaque(middle, "d")              # a directory replaced whole
    write(middle, "d/new")
    whiteout(middle, "e")            # a tree deleted ...
    write(top, "e/again")            # ... and made anew above: only the new one shows
    write(top, "c/now-a-dir")        # a file replaced by a directory
    write(top, "a/two")
    write(middle, "big", "y" * 1000)  # a file replaced by a bigger one
    return [top, middle, bottom]


def listing(tree: ImageTree) -> dict[bytes, tuple[int, int]]:
    return {e.path: (stat.S_IFMT(e.st.st_mode), e.st.st_size if stat.S_ISREG(e.st.st_mode) else 0)
            for e in tree.walk()}


def test_merge_matches_a_real_overlay_mount(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "overlay mounts and trusted.* xattrs need root")
    stack = layers(tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lower = ":".join(str(p) for p in stack)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", str(mnt)], check=True)
    try:
        kernel = listing(ImageTree([os.fsencode(mnt)], one_device=True))
        ours = listing(ImageTree([os.fsencode(p) for p in stack]))
        mountinfo = Path("/proc/self/mountinfo").read_bytes()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    assert ours == kernel
    assert b"/b/drop" not in ours and b"/b/keep" in ours
    assert b"/d/old" not in ours and b"/d/new" in ours
    assert b"/e/f" not in ours and b"/e/again" in ours
    assert ours[b"/c"][0] == stat.S_IFDIR and ours[b"/big"][1] == 1000
    mine = [line for line in mountinfo.splitlines() if os.fsencode(mnt) in line]
    found = root_mount(mine[-1].replace(b" " + os.fsencode(mnt) + b" ", b" / ", 1))
    assert found is not None and lower_layers(found) == [os.fsencode(p) for p in stack]


def test_lookup_resolve_and_listdir_see_the_merged_view(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "trusted.* xattrs need root")
    tree = ImageTree([os.fsencode(p) for p in layers(tmp_path)])
    assert tree.lookup(b"/b/drop") is None and tree.lookup(b"/d/old2") is None
    assert tree.resolve(b"/link") == b"/a/one"
    assert tree.read(b"/link", 10) == b"x"
    assert tree.listdir(b"/d") == [b"new"]
    assert tree.listdir(b"/a") == [b"one", b"one-hard", b"sub", b"two"]
    assert tree.is_dir(b"/c") and not tree.is_dir(b"/big")


def test_a_plain_root_stays_on_its_device(tmp_path: Path) -> None:
    write(tmp_path, "etc/conf")
    (tmp_path / "proc").mkdir()
    tree = ImageTree([os.fsencode(tmp_path)], one_device=True)
    found = {e.path for e in tree.walk(prune=frozenset({b"/proc"}))}
    assert found == {b"/etc", b"/etc/conf"}


@pytest.mark.parametrize("line, layers", [
    (b"36 35 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/s/3/fs:/s/2/fs,upperdir=/s/4/fs,workdir=/s/4/w",
     [b"/s/3/fs", b"/s/2/fs"]),
    (b"36 35 0:30 / / rw shared:1 - overlay overlay rw,lowerdir+=/s/3/fs,lowerdir+=/s/2/fs,upperdir=/u",
     [b"/s/3/fs", b"/s/2/fs"]),
    (b"36 35 0:30 / / rw - overlay overlay rw,lowerdir=/a\\134:b:/c\\040d,upperdir=/u", [b"/a:b", b"/c d"]),
])
def test_lower_layers_from_mountinfo(line: bytes, layers: list[bytes]) -> None:
    mount = root_mount(b"20 1 8:1 / /etc/hosts rw - ext4 /dev/vda rw\n" + line)
    assert mount is not None and mount.fstype == b"overlay"
    assert lower_layers(mount) == layers


def test_locate_takes_layers_where_it_can_and_the_root_where_it_must(tmp_path: Path) -> None:
    top, bottom = tmp_path / "host/snap/2/fs", tmp_path / "host/snap/1/fs"
    write(top, "etc/new")
    write(bottom, "etc/old")
    proc = tmp_path / "proc" / "42"
    proc.mkdir(parents=True)
    write(tmp_path, "rootfs/etc/old")
    (proc / "root").symlink_to(tmp_path / "rootfs")
    (proc / "mountinfo").write_text(
        "36 35 0:30 / / rw - overlay overlay rw,lowerdir=/snap/2/fs:/snap/1/fs,upperdir=/snap/3/fs,workdir=/w\n"
        "40 36 8:1 /etc/hosts /etc/hosts rw - ext4 /dev/vda rw\n")
    proc_root, hosts = str(tmp_path / "proc"), ("/nonexistent", str(tmp_path / "host"))
    exact = locate(42, proc_root=proc_root, host_roots=hosts)
    assert exact is not None and exact.source == "layers"
    assert {e.path for e in exact.tree.walk()} == {b"/etc", b"/etc/new", b"/etc/old"}
    # opaque directories unreadable: the root instead, minus what the upper directory shows written
    write(tmp_path, "rootfs/etc/written-by-it")
    write(tmp_path, "host/snap/3/fs/etc/written-by-it")
    blind = locate(42, proc_root=proc_root, host_roots=hosts, exact_layers=False)
    assert blind is not None and blind.source == "rootfs"
    assert blind.prune == frozenset({b"/etc/hosts", b"/etc/written-by-it"})
    assert {e.path for e in blind.tree.walk(prune=blind.prune)} == {b"/etc", b"/etc/old"}
    gone = locate(42, proc_root=proc_root, host_roots=("/nonexistent",))  # layers not reachable
    assert gone is not None and gone.source == "rootfs"
    assert locate(43, proc_root=proc_root, host_roots=hosts) is None
