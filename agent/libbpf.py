"""The agent's hands on loaded BPF maps: reads and writes through libbpf (small, no compiler), and the ring
buffer read from its mapped pages. The program itself is compiled and loaded elsewhere (snoop.agent.loader)."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import select
from collections.abc import Callable, Iterator
from typing import Any

BPF_ANY, BPF_NOEXIST = 0, 1


class LibbpfError(OSError):
    pass


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError as exc:
        raise LibbpfError(errno.ENOENT, "libbpf.so.1 missing: install Debian's libbpf1") from exc
    for name, restype, argtypes in (
        ("bpf_map_lookup_elem", ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
        ("bpf_map_update_elem", ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]),
        ("bpf_map_delete_elem", ctypes.c_int, [ctypes.c_int, ctypes.c_void_p]),
        ("bpf_map_get_next_key", ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
        ("libbpf_num_possible_cpus", ctypes.c_int, []),
    ):
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


_lib: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        _lib = _library()
    return _lib


def _check(ret: int, what: str) -> int:
    """libbpf 1.x returns -errno."""
    if ret < 0:
        raise LibbpfError(-ret, f"{what}: {os.strerror(-ret)}")
    return ret


class Map:
    """One BPF map by its fd. Per-CPU maps read and write a list with one value per possible CPU."""

    def __init__(self, fd: int, key: Any, value: Any, *, per_cpu: bool = False) -> None:
        self.fd = fd
        self.Key = key
        self.Value = value
        self.cpus = _check(lib().libbpf_num_possible_cpus(), "possible CPUs") if per_cpu else 1
        self.per_cpu = per_cpu
        # The kernel copies per-CPU values in 8-byte slots.
        self._slot = (ctypes.sizeof(value) + 7) & ~7 if per_cpu else ctypes.sizeof(value)

    def _buffer(self) -> ctypes.Array[ctypes.c_char]:
        return ctypes.create_string_buffer(self._slot * self.cpus)

    def get(self, key: Any) -> Any:
        """The value (a list for per-CPU maps), or None when the key is absent."""
        buf = self._buffer()
        ret = lib().bpf_map_lookup_elem(self.fd, ctypes.byref(key), buf)
        if ret == -errno.ENOENT:
            return None
        _check(ret, "map lookup")
        values = [self.Value.from_buffer_copy(buf, cpu * self._slot) for cpu in range(self.cpus)]
        return values if self.per_cpu else values[0]

    def set(self, key: Any, value: Any, flags: int = BPF_ANY) -> bool:
        """Writes ``value`` (for per-CPU maps, one value for every CPU); False if NOEXIST found the key."""
        buf = self._buffer()
        for cpu in range(self.cpus):
            ctypes.memmove(ctypes.addressof(buf) + cpu * self._slot, ctypes.byref(value), ctypes.sizeof(value))
        ret = lib().bpf_map_update_elem(self.fd, ctypes.byref(key), buf, flags)
        if ret == -errno.EEXIST and flags == BPF_NOEXIST:
            return False
        _check(ret, "map update")
        return True

    def delete(self, key: Any) -> None:
        ret = lib().bpf_map_delete_elem(self.fd, ctypes.byref(key))
        if ret != -errno.ENOENT:
            _check(ret, "map delete")

    def keys(self) -> Iterator[Any]:
        key, previous = self.Key(), None
        while lib().bpf_map_get_next_key(self.fd, ctypes.byref(previous) if previous is not None else None,
                                         ctypes.byref(key)) == 0:
            yield key
            previous, key = key, self.Key()


class RingBuffer:
    """Consumer of a BPF_MAP_TYPE_RINGBUF, read from its pages mapped into this process, as libbpf's own
    consumer reads them: ``poll`` hands every committed record to ``on_sample`` as a memoryview.

    Not libbpf's ``ring_buffer__poll``: that calls back into Python once per record, and each call takes the
    interpreter lock anew. While the main loop computes, every take waits out its switch interval (5 ms),
    so a burst of a few hundred records (a dozen containers starting) was read seconds late, after short-lived
    containers had gone. Here one take reads everything the kernel has committed.
    """

    BUSY, DISCARD, HEADER = 1 << 31, 1 << 30, 8

    def __init__(self, fd: int, size: int, on_sample: Callable[[memoryview], None]) -> None:
        page = mmap.PAGESIZE
        self._on_sample = on_sample
        self._mask = size - 1
        self._consumer_page = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._consumer = ctypes.c_uint64.from_buffer(self._consumer_page)  # one aligned 8-byte store per update
        # The producer's page, then the data mapped twice over: a record that wraps is contiguous here.
        self._pages = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._view = memoryview(self._pages)
        self._data = page
        self._epoll = select.epoll()
        self._epoll.register(fd, select.EPOLLIN)

    def poll(self, timeout_ms: int) -> int:
        """Reads what is committed; if nothing is, waits up to ``timeout_ms`` for the kernel's wakeup."""
        read = self._consume()
        if read == 0 and timeout_ms != 0:
            self._epoll.poll(timeout_ms / 1000 if timeout_ms > 0 else -1)
            read = self._consume()
        return read

    def _consume(self) -> int:
        read = 0
        consumer = self._consumer.value
        while True:
            producer = int.from_bytes(self._view[:8], "little")
            if consumer >= producer:
                return read
            while consumer < producer:
                at = self._data + (consumer & self._mask)
                length = int.from_bytes(self._view[at : at + 4], "little")
                if length & self.BUSY:  # reserved, not yet committed: the next poll takes it
                    return read
                size = length & ~(self.BUSY | self.DISCARD)
                try:
                    if not length & self.DISCARD:
                        self._on_sample(self._view[at + self.HEADER : at + self.HEADER + size])
                        read += 1
                finally:  # handed over even if handling it failed: a record is never read twice
                    consumer += (size + self.HEADER + 7) // 8 * 8
                    self._consumer.value = consumer

    def close(self) -> None:
        if self._epoll.closed:
            return
        self._epoll.close()
        self._view.release()
        del self._consumer
        self._consumer_page.close()
        self._pages.close()
