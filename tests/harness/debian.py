"""Real Debian root filesystems, made by debootstrap once per machine and cached: the image for tests of
inventories and package ownership, and the base the deploy/ Dockerfiles build FROM. About a minute and
200-260 MB each on first use."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

CACHE = Path(os.environ.get("SNOOP_TEST_CACHE", "/var/cache/snoop-tests"))
MIRROR = os.environ.get("SNOOP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"


def debian_rootfs(name: str = "bookworm-python3", include: str = "python3") -> Path:
    """``debootstrap --variant=minbase [--include=<include>]``, built once; concurrent callers wait."""
    root = CACHE / name
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if root.exists():  # renamed into place only once complete
            return root
        partial = CACHE / f"{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        packages = [f"--include={include}"] if include else []
        subprocess.run(["debootstrap", "--variant=minbase", *packages, SUITE, str(partial), MIRROR],
                       check=True, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    return root
