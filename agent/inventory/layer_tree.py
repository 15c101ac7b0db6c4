"""An image's file tree from its layer tarballs, applied in order with the OCI rules, never unpacked.

Each layer is a tar stream (gzip-compressed or not) read once, front to back. An entry adds or replaces
its path (a directory over a directory merges; anything else replaces, subtree and all); ``.wh.NAME``
removes NAME of the layers below; ``.wh..wh..opq`` hides everything the layers below put in its
directory; a hard link shares its target's inode. Only metadata is kept, plus the bytes of the few files
the package readers need (databases, manifests), so memory follows the number of files, not their size.

It answers what ``ImageTree`` answers (walk, lookup, resolve, read, listdir), so one inventory and one
set of package readers serve both.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from snoop.agent.inventory.tree import Entry
from snoop.common.links import follow_links

WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"
MAX_KEPT_BYTES = 256 * 2**20  # a file the package readers want, kept only up to this size


class LayerError(Exception):
    """A layer that cannot be read; the message names it and why."""


@dataclass
class Node:
    mode: int
    size: int = 0
    target: bytes = b""        # of a symlink
    inode: int = 0
    layer: int = 0             # the layer that last declared it
    data: bytes | None = None  # kept bytes of a file the package readers want
    children: dict[bytes, Node] | None = field(default=None)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def wanted_by_package_readers(path: bytes) -> bool:
    """Files ``packages.py`` reads: package databases, os-release, language package metadata."""
    return (path.startswith((b"/var/lib/dpkg/", b"/lib/apk/db/", b"/etc/os-release", b"/usr/lib/os-release"))
            or b".dist-info/" in path or b".egg-info/" in path or path.endswith(b"/package.json"))


class ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte strings: what tarfile's stream mode reads."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def member_path(name: str) -> bytes:
    """A tar member's name as an absolute path of the image."""
    parts = [p for p in os.fsencode(name).split(b"/") if p not in (b"", b".")]
    return b"/" + b"/".join(parts)


class LayerTree:
    def __init__(self, keep: Callable[[bytes], bool] = wanted_by_package_readers) -> None:
        self._root = Node(stat.S_IFDIR | 0o755, children={})
        self._keep = keep
        self._layers = 0
        self._inodes = 0
        self._links: Counter[int] = Counter()

    # Building

    def apply(self, chunks: Iterable[bytes], name: str = "layer") -> None:
        """Applies one layer, its tar stream (plain or gzip) given as byte strings."""
        self._layers += 1
        try:
            with tarfile.open(fileobj=io.BufferedReader(ChunkReader(chunks), 1 << 20), mode="r|*") as tar:
                for member in tar:
                    self._add(member, tar)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise LayerError(f"{name}: not a tar stream this reader takes (plain or gzip): {exc}") from exc

    def _add(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        path = member_path(member.name)
        if path == b"/":
            self._root.mode = stat.S_IFDIR | (member.mode & 0o7777)
            return
        parent_path, name = os.path.split(path)
        parent = self._directory(parent_path)
        assert parent.children is not None
        if name == OPAQUE:
            self._hide_lower(parent)
            return
        if name.startswith(WHITEOUT):
            self._drop(parent.children.pop(name[len(WHITEOUT):], None))
            return
        old = parent.children.get(name)
        if member.isdir():
            if old is not None and old.is_dir:
                old.mode, old.layer = stat.S_IFDIR | (member.mode & 0o7777), self._layers
                return
            node = Node(stat.S_IFDIR | (member.mode & 0o7777), layer=self._layers, children={})
        elif member.islnk():
            target = self._find(member_path(member.linkname))
            if target is None or target.is_dir:
                return  # a link to nothing this image holds: the layer is malformed there; skip it
            if not target.inode:
                target.inode = self._new_inode()
                self._links[target.inode] += 1
            node = Node(target.mode, target.size, inode=target.inode, layer=self._layers, data=target.data)
            self._links[node.inode] += 1
        elif member.issym():
            node = Node(stat.S_IFLNK | 0o777, target=os.fsencode(member.linkname), layer=self._layers)
        elif member.isreg():
            node = Node(stat.S_IFREG | (member.mode & 0o7777), member.size, layer=self._layers)
            if self._keep(path) and member.size <= MAX_KEPT_BYTES:
                f = tar.extractfile(member)
                node.data = f.read() if f is not None else None
        else:  # devices and fifos: not files of the image's
            node = Node(stat.S_IFIFO | (member.mode & 0o7777), layer=self._layers)
        self._drop(old)
        parent.children[name] = node

    def _new_inode(self) -> int:
        self._inodes += 1
        return self._inodes

    def _directory(self, path: bytes) -> Node:
        """The directory at ``path``, made (or made a directory, replacing a file) where needed, each one
        marked as declared by this layer so that an opaque directory above keeps it."""
        node = self._root
        for part in [p for p in path.split(b"/") if p]:
            assert node.children is not None
            child = node.children.get(part)
            if child is None or not child.is_dir:
                self._drop(child)
                child = node.children[part] = Node(stat.S_IFDIR | 0o755, children={})
            child.layer = self._layers
            node = child
        return node

    def _hide_lower(self, directory: Node) -> None:
        """An opaque directory: what the layers below put in it goes; this layer's own entries stay."""
        assert directory.children is not None
        for name, child in list(directory.children.items()):
            if child.layer < self._layers:
                self._drop(directory.children.pop(name))
            elif child.is_dir:
                self._hide_lower(child)

    def _drop(self, node: Node | None) -> None:
        if node is None:
            return
        if node.inode:
            self._links[node.inode] -= 1
        for child in (node.children or {}).values():
            self._drop(child)

    def _find(self, path: bytes) -> Node | None:
        node = self._root
        for part in [p for p in path.split(b"/") if p]:
            if node.children is None:
                return None
            found = node.children.get(part)
            if found is None:
                return None
            node = found
        return node

    # What ImageTree answers

    def _entry(self, path: bytes, node: Node) -> Entry:
        nlink = max(self._links[node.inode], 1) if node.inode else 1
        st = os.stat_result((node.mode, node.inode or id(node), 0, nlink, 0, 0, node.size, 0, 0, 0))
        return Entry(path, st, path)

    def walk(self, top: bytes = b"/", *, prune: frozenset[bytes] = frozenset(),
             skip: bytes | None = None) -> Iterator[Entry]:
        """Every entry under ``top`` (resolved), depth first, names sorted; as ``ImageTree.walk``."""
        top = self.resolve(top)
        start = self._find(top)
        if start is None or start.children is None:
            return
        todo = [(top.rstrip(b"/"), start)]
        while todo:
            prefix, node = todo.pop()
            subdirs = []
            assert node.children is not None
            for name in sorted(node.children):
                child, path = node.children[name], prefix + b"/" + name
                if path in prune or (skip is not None and name == skip):
                    continue
                yield self._entry(path, child)
                if child.is_dir:
                    subdirs.append((path, child))
            todo.extend(reversed(subdirs))

    def lookup(self, path: bytes) -> Entry | None:
        node = self._find(path)
        return None if node is None or path.rstrip(b"/") == b"" else self._entry(path, node)

    def link_target(self, entry: Entry) -> bytes:
        node = self._find(entry.path)
        return node.target if node is not None else b""

    def readlink(self, path: bytes) -> bytes | None:
        node = self._find(path)
        return node.target if node is not None and stat.S_ISLNK(node.mode) else None

    def resolve(self, path: bytes) -> bytes:
        return follow_links(path, self.readlink)[0]

    def is_dir(self, path: bytes) -> bool:
        node = self._find(self.resolve(path))
        return node is not None and node.is_dir

    def read(self, path: bytes, limit: int) -> bytes | None:
        """The kept bytes of the file at ``path`` (links followed); None for any file not kept."""
        node = self._find(self.resolve(path))
        if node is None or not stat.S_ISREG(node.mode) or node.data is None:
            return None
        return node.data[:limit]

    def listdir(self, path: bytes) -> list[bytes]:
        node = self._find(self.resolve(path))
        return sorted(node.children) if node is not None and node.children is not None else []
