"""What a slim image keeps of its base: the used paths and what they need to work.

- every used file and symlink, every symlink met on the way to one (chains followed in the image), and
  the directories the containers listed, as directories only;
- each kept path's parent directories;
- what the runtime reads from the image before the entrypoint runs: ``/etc/passwd`` and ``/etc/group``
  when the config's ``User`` names a user or group, and the ``WorkingDir``;
- ``--include`` paths (a directory with its subtree), less ``--exclude`` ones; with ``coherent``, every
  file of each package that has a kept file;
- the package databases cut to the packages that still own a kept file (dpkg ``status``, ``status.d``
  and ``info/``, apk ``installed``, Python ``*.dist-info``), so a scanner sees exactly what is left.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from snoop.agent.inventory.layer_tree import LayerTree
from snoop.agent.inventory.packages import Package, is_language_db, paragraphs, read_packages
from snoop.common.links import follow_links

DPKG_STATUS = b"/var/lib/dpkg/status"
DPKG_INFO = b"/var/lib/dpkg/info"
DPKG_STATUS_D = b"/var/lib/dpkg/status.d"
APK_INSTALLED = b"/lib/apk/db/installed"
RUNTIME_USER_FILES = (b"/etc/passwd", b"/etc/group")


@dataclass(frozen=True)
class Wanted:
    used: list[tuple[bytes, str]]          # (path, type) as the collector answers: file, symlink, dir, unknown
    include: list[bytes] = field(default_factory=list)
    exclude: list[bytes] = field(default_factory=list)
    coherent_packages: bool = False


@dataclass
class KeepSet:
    entries: set[bytes] = field(default_factory=set)        # files, symlinks and others, copied as they are
    dirs: set[bytes] = field(default_factory=set)
    rewritten: dict[bytes, bytes] = field(default_factory=dict)  # a cut package database: its new bytes
    packages: list[Package] = field(default_factory=list)   # the packages left
    dropped_packages: int = 0
    warnings: list[str] = field(default_factory=list)


def names_user(user: str) -> bool:
    """Whether a config's ``User`` (``name``, ``uid``, ``name:group``, ``uid:gid``) names anyone by name."""
    return any(part and not part.isdigit() for part in user.split(":"))


class _Closure:
    def __init__(self, tree: LayerTree, keep: KeepSet) -> None:
        self.tree = tree
        self.keep = keep

    def add(self, path: bytes, *, subtree: bool = False, as_dir: bool = False, why: str = "used") -> None:
        """``path`` and the symlinks on the way to it; a directory alone, or with its subtree."""
        resolved, links = follow_links(os.path.normpath(path), self.tree.readlink)
        self.keep.entries.update(links)
        entry = self.tree.lookup(resolved)
        if entry is None:
            if resolved != b"/":
                self.keep.warnings.append(f"{os.fsdecode(path)} ({why}) is not in the image's layers: left out")
            return
        if not stat.S_ISDIR(entry.st.st_mode):
            self.keep.entries.add(resolved)
        elif subtree:
            self.keep.dirs.add(resolved)
            for e in self.tree.walk(resolved):
                (self.keep.dirs if stat.S_ISDIR(e.st.st_mode) else self.keep.entries).add(e.path)
        elif as_dir:
            self.keep.dirs.add(resolved)


def keep_set(tree: LayerTree, wanted: Wanted, config: dict) -> KeepSet:
    keep = KeepSet()
    closure = _Closure(tree, keep)
    for path, type_ in wanted.used:
        closure.add(path, as_dir=type_ == "dir", why="found missing in a slim image" if type_ == "missing" else "used")
    for path in wanted.include:
        closure.add(path, subtree=True, why="--include")
    runtime = config.get("config") or {}
    if names_user(str(runtime.get("User") or "")):
        for path in RUNTIME_USER_FILES:
            closure.add(path, why="the config's User")
    if runtime.get("WorkingDir"):
        closure.add(os.fsencode(runtime["WorkingDir"]), as_dir=True, why="the config's WorkingDir")
    packages, _errors = read_packages(tree, [e.path for e in tree.walk() if is_language_db(e.path)])
    kept = [p for p in packages if keep.entries.intersection(p.files)]
    if wanted.coherent_packages:
        for p in kept:
            for f in p.files:
                closure.add(f, why=f"--coherent packages ({p.name})")
    _exclude(keep, wanted.exclude)
    kept = [p for p in packages if keep.entries.intersection(p.files)]
    keep.packages, keep.dropped_packages = kept, len(packages) - len(kept)
    _cut_databases(tree, keep, kept, closure)
    for path in list(keep.entries | keep.dirs | set(keep.rewritten)):
        parent = os.path.dirname(path)
        while parent != b"/" and parent not in keep.dirs:
            keep.dirs.add(parent)
            parent = os.path.dirname(parent)
    return keep


def _exclude(keep: KeepSet, excluded: list[bytes]) -> None:
    for prefix in excluded:
        prefix = os.path.normpath(prefix)
        under = prefix.rstrip(b"/") + b"/"
        for group in (keep.entries, keep.dirs):
            group.difference_update({p for p in group if p == prefix or p.startswith(under)})


def _cut_databases(tree: LayerTree, keep: KeepSet, kept: list[Package], closure: _Closure) -> None:
    """Each package database as it would read had only the kept packages been installed."""
    names = {(p.type, p.name) for p in kept}
    status = tree.read(DPKG_STATUS, 2**31)
    if status is not None:
        text = status.decode("utf-8", "surrogateescape")
        stanzas = [block for block in text.split("\n\n") if block.strip()]
        left = [block for block in stanzas if ("deb", _field(block, "Package:")) in names]
        keep.rewritten[DPKG_STATUS] = ("\n\n".join(b.strip("\n") for b in left) + "\n").encode(
            "utf-8", "surrogateescape") if left else b""
        for name in tree.listdir(DPKG_INFO):
            package = name.rsplit(b".", 1)[0].split(b":", 1)[0].decode("utf-8", "replace")
            if ("deb", package) in names:
                closure.add(DPKG_INFO + b"/" + name, why="dpkg's record of a kept package")
    for name in tree.listdir(DPKG_STATUS_D):
        if name.endswith(b".md5sums"):
            continue
        text = (tree.read(DPKG_STATUS_D + b"/" + name, 2**24) or b"").decode("utf-8", "replace")
        if any(("deb", fields.get("Package", "")) in names for _, fields in paragraphs(text)):
            closure.add(DPKG_STATUS_D + b"/" + name, why="dpkg's record of a kept package")
            if tree.lookup(DPKG_STATUS_D + b"/" + name + b".md5sums") is not None:
                closure.add(DPKG_STATUS_D + b"/" + name + b".md5sums", why="dpkg's record of a kept package")
    installed = tree.read(APK_INSTALLED, 2**31)
    if installed is not None:
        blocks = [b for b in installed.decode("utf-8", "surrogateescape").split("\n\n") if b.strip()]
        left = [b for b in blocks if ("apk", _field(b, "P:")) in names]
        keep.rewritten[APK_INSTALLED] = ("\n\n".join(b.strip("\n") for b in left) + "\n\n").encode(
            "utf-8", "surrogateescape") if left else b""
    for p in kept:
        if p.type == "python":
            for f in p.files:
                if b".dist-info/" in f or b".egg-info/" in f:
                    closure.add(os.path.dirname(f), subtree=True, why=f"the metadata of {p.name}")
                    break


def _field(block: str, key: str) -> str:
    """The value of ``key`` (``Package:``, apk's ``P:``) in one stanza."""
    for line in block.splitlines():
        if line.startswith(key):
            return line[len(key):].strip()
    return ""
