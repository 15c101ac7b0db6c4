"""Turn the path a process passed to a syscall into the absolute path its container sees.

Works on bytes end to end: file names are not always UTF-8, and nothing may be lost on the way.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Callable

from snoop.agent.events import FileType

MAX_SYMLINK_HOPS = 40  # the kernel's limit (MAXSYMLINKS)


def normalise(path: bytes) -> bytes:
    """Collapses ``//``, ``.`` and ``..`` lexically; ``..`` at the root stays at the root."""
    parts: list[bytes] = []
    for part in path.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return b"/" + b"/".join(parts)


def join(base: bytes, path: bytes) -> bytes:
    """``path`` if absolute, else ``path`` under ``base``; not normalised."""
    return path if path.startswith(b"/") else base.rstrip(b"/") + b"/" + path


def rewrite_proc_self(path: bytes, pid: int, tid: int) -> bytes:
    """``/proc/self`` and ``/proc/thread-self`` name the caller: make them say which one."""
    if path == b"/proc/self" or path.startswith(b"/proc/self/"):
        return b"/proc/%d" % pid + path[len(b"/proc/self") :]
    if path == b"/proc/thread-self" or path.startswith(b"/proc/thread-self/"):
        return b"/proc/%d/task/%d" % (pid, tid) + path[len(b"/proc/thread-self") :]
    return path


def follow_links(path: bytes, readlink: Callable[[bytes], bytes | None]) -> tuple[bytes, list[bytes]]:
    """``path`` (absolute) with every symlink on it followed, and the links met on the way.

    ``readlink`` answers for one absolute path below an already resolved, link-free prefix: its target,
    or None when it is no link (or is gone). So links are followed wherever ``readlink`` looks (a
    container's root, an image's layers), never on the host's root. Missing components are kept as they
    are; a loop stops where the kernel would answer ELOOP, keeping what was resolved.
    """
    todo = deque(p for p in path.split(b"/") if p)
    resolved: list[bytes] = []
    links: list[bytes] = []
    while todo:
        part = todo.popleft()
        if part == b".":
            continue
        if part == b"..":
            if resolved:
                resolved.pop()
            continue
        candidate = b"/" + b"/".join([*resolved, part])
        target = readlink(candidate)
        if target is None:
            resolved.append(part)
            continue
        links.append(candidate)
        if len(links) > MAX_SYMLINK_HOPS:
            resolved.append(part)
            break
        if target.startswith(b"/"):
            resolved = []
        todo.extendleft(reversed([p for p in target.split(b"/") if p]))
    return b"/" + b"/".join(resolved), links


def resolve_in_root(root_fd: int | None, path: bytes) -> tuple[bytes, list[bytes]]:
    """Resolves ``path`` (absolute, as the container sees it) inside the directory ``root_fd``.

    Returns the final path and every symlink met on the way, all as the container sees them: a slimmed
    image needs the links as well as their targets. Without a root (the container is gone) the path is
    normalised lexically.
    """
    if root_fd is None:
        return normalise(path), []

    def readlink(candidate: bytes) -> bytes | None:
        try:
            return os.readlink(candidate[1:], dir_fd=root_fd)
        except OSError:  # not a link (EINVAL), gone (ENOENT), not a directory on the way (ENOTDIR)
            return None

    return follow_links(path, readlink)


def file_type(root_fd: int | None, path: bytes) -> FileType:
    """What ``path`` (resolved, as the container sees it) is in the root: UNKNOWN when it is gone."""
    if root_fd is None:
        return FileType.UNKNOWN
    try:
        mode = os.stat(path.lstrip(b"/") or b".", dir_fd=root_fd, follow_symlinks=False).st_mode
    except OSError:
        return FileType.UNKNOWN
    if stat.S_ISDIR(mode):
        return FileType.DIR
    return FileType.SYMLINK if stat.S_ISLNK(mode) else FileType.FILE


_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape(field: bytes) -> bytes:
    """A mountinfo field with its octal escapes (``\\040`` for a space, …) undone."""
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), field)


def mount_points(mountinfo: bytes) -> tuple[bytes, ...]:
    """The mount points of a /proc/<pid>/mountinfo (field 5, octal escapes undone), the root left out."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split(b" ")
        if len(fields) > 4 and fields[4] != b"/":
            points.append(unescape(fields[4]))
    return tuple(points)


def excluded(path: bytes, prefixes: tuple[bytes, ...]) -> bool:
    """True when ``path`` is one of ``prefixes`` or lies under one (a prefix ends with ``/`` or not)."""
    for prefix in prefixes:
        bare = prefix.rstrip(b"/")
        if path == bare or path.startswith(bare + b"/"):
            return True
    return False
