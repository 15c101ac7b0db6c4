"""What the kernel opens for an exec without a syscall: a script's ``#!`` interpreter and an ELF
binary's dynamic loader (PT_INTERP). Neither shows up as an open, yet a slimmed image without them
cannot start the program; so the agent reads them from the executed file itself.
"""

from __future__ import annotations

import os
import struct

HEAD = 4096  # program headers of ordinary binaries lie well within the first page
PT_INTERP = 3


def _read_head(root_fd: int, path: bytes) -> bytes:
    # O_NONBLOCK: the file was a regular one when exec'd, but may be a FIFO by now
    fd = os.open(path.lstrip(b"/") or b".", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=root_fd)
    try:
        return os.pread(fd, HEAD, 0)
    finally:
        os.close(fd)


def _elf_interpreter(head: bytes) -> bytes | None:
    if len(head) < 52 or head[:4] != b"\x7fELF":
        return None
    is64, endian = head[4] == 2, "<" if head[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(endian + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
    else:
        phoff, = struct.unpack_from(endian + "I", head, 28)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 42)
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + phentsize > len(head):
            return None
        p_type, = struct.unpack_from(endian + "I", head, at)
        if p_type != PT_INTERP:
            continue
        if is64:
            offset, = struct.unpack_from(endian + "Q", head, at + 8)
            size, = struct.unpack_from(endian + "Q", head, at + 32)
        else:
            offset, = struct.unpack_from(endian + "I", head, at + 4)
            size, = struct.unpack_from(endian + "I", head, at + 16)
        name = head[offset : offset + size].split(b"\0", 1)[0]
        return name if name.startswith(b"/") else None
    return None


def interpreter_of(root_fd: int, path: bytes) -> bytes | None:
    """The interpreter the kernel loads to run ``path`` (absolute inside ``root_fd``), if any."""
    try:
        head = _read_head(root_fd, path)
    except OSError:
        return None
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].split()
        return words[0] if words and words[0].startswith(b"/") else None
    return _elf_interpreter(head)
