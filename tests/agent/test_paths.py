from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from snoop.agent.events import FileType
from snoop.agent.paths import excluded, file_type, join, mount_points, normalise, resolve_in_root, rewrite_proc_self
from snoop.agent.pipeline import typed
from snoop.agent.roots import Root


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b"/etc/passwd", b"/etc/passwd"),
        (b"//etc///passwd", b"/etc/passwd"),
        (b"/etc/./ssl/../passwd", b"/etc/passwd"),
        (b"/../../etc", b"/etc"),
        (b"/", b"/"),
        (b"/usr/lib/", b"/usr/lib"),
        (b"/caf\xe9/\xff\xfe", b"/caf\xe9/\xff\xfe"),  # not UTF-8: kept byte for byte
    ],
)
def test_normalise(raw: bytes, want: bytes) -> None:
    assert normalise(raw) == want


def test_join_keeps_absolute_paths() -> None:
    assert join(b"/app", b"conf/x") == b"/app/conf/x"
    assert join(b"/", b"x") == b"/x"
    assert join(b"/app", b"/etc/x") == b"/etc/x"


def test_proc_self_names_the_process() -> None:
    assert rewrite_proc_self(b"/proc/self/maps", 42, 43) == b"/proc/42/maps"
    assert rewrite_proc_self(b"/proc/thread-self/comm", 42, 43) == b"/proc/42/task/43/comm"
    assert rewrite_proc_self(b"/proc/selfish", 42, 43) == b"/proc/selfish"


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    """A container-like tree: /bin/sh -> busybox, /lib -> usr/lib, /etc/alt -> /etc/real, a loop."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "busybox").write_bytes(b"")
    (tmp_path / "bin" / "sh").symlink_to("busybox")
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "libc.so").write_bytes(b"")
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "etc" / "real").mkdir(parents=True)
    (tmp_path / "etc" / "alt").symlink_to("/etc/real")
    (tmp_path / "loop").symlink_to("loop")
    # an absolute link must resolve inside the root, never on the host's /etc
    (tmp_path / "hostile").symlink_to("/etc/shadow")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_symlinks_are_reported_with_their_targets(root: int) -> None:
    assert resolve_in_root(root, b"/bin/sh") == (b"/bin/busybox", [b"/bin/sh"])
    assert resolve_in_root(root, b"/lib/libc.so") == (b"/usr/lib/libc.so", [b"/lib"])
    assert resolve_in_root(root, b"/etc/alt/../alt/x") == (b"/etc/real/x", [b"/etc/alt", b"/etc/alt"])


def test_absolute_links_stay_in_the_root(root: int) -> None:
    final, links = resolve_in_root(root, b"/hostile")
    assert (final, links) == (b"/etc/shadow", [b"/hostile"])


def test_symlink_loop_ends(root: int) -> None:
    final, links = resolve_in_root(root, b"/loop/x")
    assert final.startswith(b"/loop")
    assert len(links) == 41


def test_dotdot_follows_the_link_target_not_the_name(root: int) -> None:
    # /lib/.. is /usr (lib -> usr/lib), where lexical normalisation would say /
    assert resolve_in_root(root, b"/lib/../lib/libc.so")[0] == b"/usr/lib/libc.so"


def test_missing_root_falls_back_to_lexical() -> None:
    assert resolve_in_root(None, b"/a/./b/../c") == (b"/a/c", [])


def test_long_path_is_kept_whole(root: int) -> None:
    deep = b"/" + b"/".join([b"d" * 200] * 20)
    assert len(deep) > 4000
    assert resolve_in_root(root, deep) == (deep, [])


def test_excluded_prefixes() -> None:
    prefixes = (b"/proc/", b"/etc/hosts")
    assert excluded(b"/proc/1/maps", prefixes)
    assert excluded(b"/proc", prefixes)
    assert excluded(b"/etc/hosts", prefixes)
    assert not excluded(b"/etc/hostsfile", prefixes)
    assert not excluded(b"/processes", prefixes)


def test_file_types_in_the_root(root: int) -> None:
    assert file_type(root, b"/") is FileType.DIR
    assert file_type(root, b"/usr/lib") is FileType.DIR
    assert file_type(root, b"/bin/busybox") is FileType.FILE
    assert file_type(root, b"/bin/sh") is FileType.SYMLINK  # a link is not followed
    assert file_type(root, b"/gone") is FileType.UNKNOWN
    assert file_type(None, b"/bin/busybox") is FileType.UNKNOWN


def test_mount_points_of_a_mountinfo() -> None:
    info = (b"1 0 0:1 / / rw - overlay overlay rw\n"
            b"2 1 0:2 / /proc rw - proc proc rw\n"
            b"3 1 8:1 /var/lib/x/hosts /etc/hosts rw - ext4 /dev/sda1 rw\n"
            b"4 1 8:1 /v /data\\040dir rw - ext4 /dev/sda1 rw\n")
    assert mount_points(info) == (b"/proc", b"/etc/hosts", b"/data dir")


def test_what_lies_on_a_runtime_mount_is_the_runtimes(root: int) -> None:
    on_mounts = Root(root, (b"/etc/real",))
    assert typed(on_mounts, b"/etc/alt/resolv.conf") == [(b"/etc/alt", FileType.SYMLINK),
                                                         (b"/etc/real/resolv.conf", FileType.RUNTIME)]
    assert typed(on_mounts, b"/bin/sh") == [(b"/bin/sh", FileType.SYMLINK), (b"/bin/busybox", FileType.FILE)]
    assert typed(None, b"/bin/sh") == [(b"/bin/sh", FileType.UNKNOWN)]
