"""Symlinks followed inside an image or a container, never on the host's root: one way for all of snoop."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

MAX_SYMLINK_HOPS = 40  # the kernel's limit (MAXSYMLINKS)


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
