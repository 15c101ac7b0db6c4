"""The agent's hands on loaded BPF maps, through libbpf (small, no compiler): map reads and writes and the
ring buffer's consumer. The program itself is compiled and loaded elsewhere (snoop.agent.loader)."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable, Iterator
from typing import Any

BPF_ANY, BPF_NOEXIST = 0, 1
SampleFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


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
        ("ring_buffer__new", ctypes.c_void_p, [ctypes.c_int, SampleFn, ctypes.c_void_p, ctypes.c_void_p]),
        ("ring_buffer__poll", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
        ("ring_buffer__free", None, [ctypes.c_void_p]),
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
    """Consumer of a BPF_MAP_TYPE_RINGBUF: ``poll`` calls ``on_sample(address, size)`` for each record."""

    def __init__(self, fd: int, on_sample: Callable[[int, int], None]) -> None:
        def sample(_ctx: int | None, data: int, size: int) -> int:
            on_sample(data, size)
            return 0

        self._callback = SampleFn(sample)  # kept referenced: libbpf calls it for the ring's life
        self._ring = lib().ring_buffer__new(fd, self._callback, None, None)
        if not self._ring:
            raise LibbpfError(ctypes.get_errno(), "ring_buffer__new failed")

    def poll(self, timeout_ms: int) -> int:
        ret = lib().ring_buffer__poll(self._ring, timeout_ms)
        return 0 if ret == -errno.EINTR else _check(ret, "ring buffer poll")

    def close(self) -> None:
        if self._ring:
            lib().ring_buffer__free(self._ring)
            self._ring = None
