"""Builds the probe workload (probe.c, static) and the rootfs it expects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.images import busybox_rootfs

SOURCE = Path(__file__).with_name("probe.c")


def probe_rootfs(root: Path) -> Path:
    busybox_rootfs(root)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin" / "probe"), str(SOURCE)], check=True)
    app = root / "app"
    for d in ("data", "dir", "fdir", "child"):
        (app / d).mkdir(parents=True, exist_ok=True)
    for f in ("data/rel.txt", "dir/inner.txt", "dir/inner2.txt", "fdir/f.txt", "child/c.txt", "target.txt",
              "stat-only.txt", "access-only.txt", "dir/inherited.txt"):
        (app / f).write_text(f + "\n")
    (app / "link.txt").symlink_to("target.txt")
    (app / "readlink-only").symlink_to("target.txt")
    with open(bytes(app) + b"/caf\xe9.txt", "w") as latin1:
        latin1.write("latin-1 name\n")
    return root


def have_compiler() -> bool:
    return shutil.which("gcc") is not None and Path("/usr/lib/x86_64-linux-gnu/libc.a").exists()
