"""Where a running container's image lies on this node: its overlayfs lower layers, or else its root.

The container's root mount (``/`` in its mountinfo) names the layers in ``lowerdir=``, top first, as
paths on the host. The upper directory holds what the container wrote since it started and is left
out. An agent in a pod reaches the host's paths through ``/proc/1/root`` (hostPID); an agent on the
host reaches them as they are. This walk is exact for one layer, or with CAP_SYS_ADMIN: overlayfs marks
opaque directories with ``trusted.*`` extended attributes, which only that capability can read, and a
merge blind to them would list files that the image hides. Otherwise the caller reads the layer blobs
from containerd's content store (``content.py``, ``layer_tree.py``); where none is reachable, the
container's own root at first sight stands in, minus its other mounts and minus what its upper
directory shows it wrote.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from snoop.agent.inventory.tree import ImageTree, Tree
from snoop.agent.paths import mount_points, unescape

CAP_SYS_ADMIN = 21


def can_read_trusted_xattrs() -> bool:
    """Whether this process holds CAP_SYS_ADMIN (effective), which ``trusted.*`` attributes need."""
    try:
        with open("/proc/self/status") as f:
            caps = next(line for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caps.split()[1], 16) >> CAP_SYS_ADMIN & 1)


@dataclass(frozen=True)
class RootMount:
    fstype: bytes
    options: dict[bytes, list[bytes]]  # super options; lowerdir+ (fsconfig) folded into lowerdir


def root_mount(mountinfo: bytes) -> RootMount | None:
    """The topmost mount at ``/``."""
    found = None
    for line in mountinfo.splitlines():
        fields = line.split(b" ")
        if len(fields) < 7 or fields[4] != b"/" or b"-" not in fields[6:]:
            continue
        rest = fields[fields.index(b"-", 6) + 1 :]
        if len(rest) < 3:
            continue
        options: dict[bytes, list[bytes]] = {}
        for option in rest[2].split(b","):
            key, _, value = option.partition(b"=")
            key = b"lowerdir" if key == b"lowerdir+" else key
            options.setdefault(key, []).append(unescape(value))
        found = RootMount(rest[0], options)
    return found


def lower_layers(mount: RootMount) -> list[bytes]:
    """``lowerdir=a:b:c`` (``\\:`` escapes a colon in a path), top first."""
    layers: list[bytes] = []
    for value in mount.options.get(b"lowerdir", []):
        layers += [p.replace(b"\0", b":") for p in value.replace(b"\\:", b"\0").split(b":") if p]
    return layers


def written(mount: RootMount, host_roots: tuple[str, ...]) -> frozenset[bytes]:
    """Files and symlinks the container wrote, as its overlayfs upper directory holds them (whiteouts,
    which mark deletions, and directories aside): what a root at first sight holds that the image does not."""
    for upper in mount.options.get(b"upperdir", [])[:1]:
        for host in host_roots:
            top = os.fsencode(host).rstrip(b"/") + upper
            if not os.path.isdir(top):
                continue
            out = set()
            for directory, _dirs, files in os.walk(top):
                for name in files:
                    location = os.path.join(directory, name)
                    st = os.lstat(location)
                    if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                        out.add(b"/" + os.path.relpath(location, top))
            return frozenset(out)
    return frozenset()


@dataclass(frozen=True)
class Located:
    tree: Tree
    source: str                 # "layers" | "rootfs"
    prune: frozenset[bytes]     # mount points inside a root that are not the image's


def locate(pid: int, *, proc_root: str, host_roots: tuple[str, ...], exact_layers: bool = True) -> Located | None:
    """The image of the container that ``pid`` runs in; None if the process is gone. ``exact_layers``:
    opaque directories can be read (see the module's docstring)."""
    try:
        with open(f"{proc_root}/{pid}/mountinfo", "rb") as f:
            mountinfo = f.read()
    except OSError:
        return None
    mount = root_mount(mountinfo)
    if mount is not None and mount.fstype == b"overlay":
        layers = lower_layers(mount)
        for host in host_roots if exact_layers or len(layers) == 1 else ():
            prefix = os.fsencode(host).rstrip(b"/")
            here = [prefix + layer for layer in layers]
            if here and all(os.path.isdir(layer) for layer in here):
                return Located(ImageTree(here), "layers", frozenset())
    root = os.fsencode(f"{proc_root}/{pid}/root")
    try:
        tree = ImageTree([root], one_device=True)
    except OSError:
        return None
    wrote = written(mount, host_roots) if mount is not None and mount.fstype == b"overlay" else frozenset()
    return Located(tree, "rootfs", frozenset(mount_points(mountinfo)) | wrote)
