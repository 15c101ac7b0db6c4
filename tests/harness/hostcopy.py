"""A rootfs of real glibc programs (python3, strace) copied from this host with their libraries.

Like a debootstrap tree for the programs it holds, built in about a second and without a mirror.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.harness.images import busybox_rootfs

PYTHON = Path("/usr/bin/python3.11")
STDLIB = Path("/usr/lib/python3.11")
SKIP = shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3")
_LIB = re.compile(r"(/\S+\.so[.\d]*)")


def shared_libraries(binaries: list[Path]) -> set[Path]:
    libs: set[Path] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        libs.update(Path(m) for m in _LIB.findall(out))
    return libs


def copy_into(root: Path, path: Path) -> None:
    """Copies ``path`` to the same place under ``root``, symlinks as symlinks."""
    dest = root / path.relative_to("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        if not dest.is_symlink():
            dest.symlink_to(path.readlink())
        copy_into(root, path.resolve())
    elif not dest.exists():
        shutil.copy2(path, dest)


def python_strace_rootfs(root: Path) -> Path:
    busybox_rootfs(root)
    for d in ("lib", "lib64"):  # Debian's merged /usr: /lib -> usr/lib, before anything lands there
        (root / "usr" / d).mkdir(parents=True, exist_ok=True)
        if not (root / d).is_symlink():
            (root / d).symlink_to(f"usr/{d}")
    strace = Path(shutil.which("strace") or "/usr/bin/strace")
    shutil.copytree(STDLIB, root / STDLIB.relative_to("/"), ignore=SKIP, symlinks=True, dirs_exist_ok=True)
    binaries = [PYTHON, strace, *(STDLIB / "lib-dynload").glob("*.so")]
    for path in [PYTHON, strace, *shared_libraries(binaries)]:
        copy_into(root, path)
    if not (root / "usr/bin/python3").is_symlink():
        (root / "usr/bin/python3").symlink_to("python3.11")
    return root


def have_host_programs() -> bool:
    return PYTHON.exists() and shutil.which("strace") is not None
