"""Turn the path a process passed to a syscall into the absolute path its container sees.

Works on bytes end to end: file names are not always UTF-8, and nothing may be lost on the way.
"""

from __future__ import annotations

import os
import re
import stat

from snoop.agent.events import FileType
from snoop.common.links import follow_links


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
