"""Domain types that flow through the agent: kernel events in, attributed file accesses out."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AccessKind(enum.IntFlag):
    """How a file was touched; the same bits as ``snoop.v1.AccessKind`` and the BPF program's KIND_*."""

    READ = 1
    WRITE = 2
    EXEC = 4
    STAT = 8
    READLINK = 16


class FileType(enum.IntEnum):
    """What a path is in the container; the same values as ``snoop.v1.FileType``. Higher wins when
    two observations disagree: a runtime mount hides whatever the image has there."""

    UNKNOWN = 0
    FILE = 1
    DIR = 2
    SYMLINK = 3
    RUNTIME = 4
    MISSING = 5  # a failed lookup in a slim image's container: what the slim image lacks


FILE_KINDS = AccessKind.READ | AccessKind.WRITE | AccessKind.EXEC | AccessKind.STAT | AccessKind.READLINK
# Bookkeeping events of the BPF program: they keep each process's cwd known, they are not files.
KIND_CHDIR = 32
KIND_FCHDIR = 64
KIND_FORK = 128
KIND_OPENDIR = 256  # with READ: an O_DIRECTORY open, whose fd (RawEvent.ret) names the directory
KIND_MISSING = 1024  # with a file kind: the lookup failed (ENOENT, ENOTDIR)
KIND_ENTER = 512  # no path: a process changed its root into its container's (pivot_root, chroot, setns)
KIND_CGROUP = 2048  # a cgroup was made: cgroup_id is the new cgroup's, path its path in the unified hierarchy
AT_FDCWD = -100


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event as the kernel sent it: path bytes exactly as the process passed them."""

    cgroup_id: int
    ts_ns: int  # CLOCK_BOOTTIME
    pid: int
    tid: int
    dirfd: int  # AT_FDCWD, a directory fd, the fd of fchdir, or the child pid of a fork
    ret: int  # the syscall's result (the new fd of an open)
    kind: int
    comm: bytes
    path: bytes


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """Who a cgroup belongs to, as the container runtime (CRI) describes it."""

    container_id: str
    name: str
    pod_name: str
    pod_namespace: str
    pod_uid: str
    image_reference: str
    image_digest: str
    image_id: str
    cgroup_path: str = ""
    cgroup_id: int = 0
    workload_kind: str = ""
    workload_name: str = ""
    started_at_ns: int = 0
    mounts: tuple[str, ...] = ()  # container paths of volumes/configmaps/secrets: not the image's
    slim_base: str = ""  # the base's digest when the image is a slim image snoop built (its config's label)


@dataclass(slots=True)
class FileRecord:
    """What the agent knows of one (container, path) pair."""

    kinds: int
    first_seen_ns: int
    last_seen_ns: int
    type: FileType = FileType.UNKNOWN
