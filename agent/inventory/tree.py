"""An image's file tree as overlayfs would show it, read from its layer directories without mounting.

Layers are given top first, as ``lowerdir=`` lists them. An entry of an upper layer hides the same
name below; a whiteout (a 0/0 character device) hides it and shows nothing; an opaque directory
(``trusted.overlay.opaque`` or ``user.overlay.opaque`` = ``y``) hides everything below it; a
directory merges with directories of the same name below until a non-directory, a whiteout or an
opaque one. A single directory with ``one_device`` set is a plain root filesystem whose other mounts
(``/proc``, volumes) are not walked.

Memory follows the depth of the tree and the widest directory, never the number of files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from snoop.common.links import follow_links

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
MAX_CACHED_STACKS = 65536


@dataclass(frozen=True)
class Entry:
    path: bytes            # absolute in the image
    st: os.stat_result     # lstat of the entry in the layer that shows it
    location: bytes        # where it is on this machine


class Tree(Protocol):
    """What the inventory and the package readers ask of an image's tree: ``ImageTree`` (layer
    directories or a root on this machine) and ``LayerTree`` (layer tarballs) answer it."""

    def walk(self, top: bytes = b"/", *, prune: frozenset[bytes] = frozenset(),
             skip: bytes | None = None) -> Iterator[Entry]: ...
    def lookup(self, path: bytes) -> Entry | None: ...
    def link_target(self, entry: Entry) -> bytes: ...
    def resolve(self, path: bytes) -> bytes: ...
    def is_dir(self, path: bytes) -> bool: ...
    def read(self, path: bytes, limit: int) -> bytes | None: ...
    def listdir(self, path: bytes) -> list[bytes]: ...


def files_under(tree: Tree, top: bytes, *, skip: bytes | None = None) -> Iterator[bytes]:
    """Paths of the regular files and symlinks under ``top``."""
    for entry in tree.walk(top, skip=skip):
        if stat.S_ISREG(entry.st.st_mode) or stat.S_ISLNK(entry.st.st_mode):
            yield entry.path


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(location: bytes) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(location, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _lstat(location: bytes) -> os.stat_result | None:
    try:
        return os.lstat(location)
    except OSError:
        return None


class ImageTree:
    def __init__(self, layers: list[bytes], *, one_device: bool = False) -> None:
        self._layers = [layer.rstrip(b"/") or b"/" for layer in layers]
        self._device = os.stat(self._layers[0]).st_dev if one_device else None
        self._stacks: dict[bytes, list[bytes]] = {}  # directory -> its merged stack, for lookups

    def _merged(self, stack: list[bytes], name: bytes) -> list[bytes]:
        """The directories that show ``name`` of the merged directory ``stack``, top first: the topmost
        and those it merges with. [] when ``name`` is not a directory there."""
        out: list[bytes] = []
        for directory in stack:
            location = os.path.join(directory, name)
            st = _lstat(location)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break  # a file or a whiteout ends the merge
            out.append(location)
            if self._device is not None:
                break  # a plain root: one layer, no overlay semantics
            if _is_opaque(location):
                break
        return out

    def _stack(self, path: bytes) -> list[bytes]:
        """The merged directories behind the directory at ``path`` (no symlinks on it). Cached: package
        databases look up tens of thousands of paths in a few thousand directories."""
        path = path.rstrip(b"/")
        stack = self._stacks.get(path)
        if stack is None:
            parent, name = os.path.split(path)
            if not name:
                stack = self._layers[:1] if self._device is not None else self._layers
            else:
                stack = self._merged(self._stack(parent), name)
            if len(self._stacks) >= MAX_CACHED_STACKS:
                self._stacks.clear()
            self._stacks[path] = stack
        return stack

    def _children(self, stack: list[bytes]) -> Iterator[Entry]:
        """The entries of a merged directory (``path`` left empty); whiteouts hide names below."""
        seen: set[bytes] = set()
        for directory in stack:
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                location = os.path.join(directory, name)
                st = _lstat(location)
                if st is None or (self._device is None and _is_whiteout(st)):
                    continue
                yield Entry(name, st, location)

    def walk(self, top: bytes = b"/", *, prune: frozenset[bytes] = frozenset(),
             skip: bytes | None = None) -> Iterator[Entry]:
        """Every entry under ``top`` (resolved), depth first; a directory comes before what it holds.
        Paths in ``prune`` and directories named ``skip`` are neither yielded nor entered."""
        top = self.resolve(top)
        todo: list[tuple[bytes, list[bytes]]] = [(top.rstrip(b"/"), self._stack(top))]
        while todo:
            prefix, stack = todo.pop()
            subdirs = []
            for child in self._children(stack):
                path = prefix + b"/" + child.path
                if path in prune or (skip is not None and child.path == skip):
                    continue
                yield Entry(path, child.st, child.location)
                if not stat.S_ISDIR(child.st.st_mode):
                    continue
                if self._device is not None and child.st.st_dev != self._device:
                    continue  # another mount in a plain root
                subdirs.append((path, self._merged(stack, child.path)))
            todo.extend(reversed(subdirs))

    def lookup(self, path: bytes) -> Entry | None:
        """The entry at ``path`` (absolute; its last component not followed), or None."""
        parent, name = os.path.split(path.rstrip(b"/"))
        if not name:
            return None
        stack = self._stack(parent)
        for directory in stack:
            location = os.path.join(directory, name)
            st = _lstat(location)
            if st is None:
                continue
            if self._device is None and _is_whiteout(st):
                return None
            return Entry(path, st, location)
        return None

    def resolve(self, path: bytes) -> bytes:
        """``path`` with every symlink on it followed inside the image (never the host's), kept as it is
        where a component is missing: where the file really lives in the image."""
        return follow_links(path, self._readlink)[0]

    def link_target(self, entry: Entry) -> bytes:
        """What the symlink ``entry`` (from ``walk``) points to."""
        return os.readlink(entry.location)

    def _readlink(self, path: bytes) -> bytes | None:
        entry = self.lookup(path)
        return os.readlink(entry.location) if entry is not None and stat.S_ISLNK(entry.st.st_mode) else None

    def is_dir(self, path: bytes) -> bool:
        """Whether ``path`` is a directory, links followed in the image."""
        resolved = self.resolve(path)
        entry = self.lookup(resolved)
        return resolved == b"/" or (entry is not None and stat.S_ISDIR(entry.st.st_mode))

    def read(self, path: bytes, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of the regular file at ``path`` (links followed in the image)."""
        entry = self.lookup(self.resolve(path))
        if entry is None or not stat.S_ISREG(entry.st.st_mode):
            return None
        with open(entry.location, "rb") as f:  # read(n) allocates n bytes up front: ask for what is there
            return f.read(min(limit, entry.st.st_size))

    def listdir(self, path: bytes) -> list[bytes]:
        """Sorted names in the merged directory at ``path`` (links followed in the image)."""
        return sorted(e.path for e in self._children(self._stack(self.resolve(path))))
