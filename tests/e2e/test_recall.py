"""Recall against ground truth: a real glibc workload (python imports, a shell script with relative
paths, symlinks and a 300-byte-deep path) runs under ``strace -f -y`` inside its container; every file it
successfully opened or executed must be reported, and nothing that is not in the container."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e.conftest import Stack
from tests.harness.containerd import Containerd
from tests.harness.hostcopy import have_host_programs, python_strace_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

DEEP = "/".join(["level-" + "x" * 44] * 6) + "/deep.txt"  # relative, 300+ bytes
SCRIPT = f"""#!/bin/sh
cd /work
python3 -c 'import json, sqlite3'
cat ./data/../data/config.ini > /dev/null
cat current/settings.txt > /dev/null
cat {DEEP} > /dev/null
ls releases > /dev/null
"""
NOT_IMAGE = ("/proc/", "/sys/", "/dev/", "/out/")
_OPENED = re.compile(r'^\d+ +(?:open|openat|openat2|creat)\(.*\) = \d+<(.*)>$')
_EXECUTED = re.compile(r'^\d+ +execve\("([^"]+)", .*\) = 0$')


def ground_truth(trace: str) -> set[str]:
    """Files the workload opened or executed successfully, as strace saw them."""
    truth = set()
    for line in trace.splitlines():
        m = _OPENED.match(line) or _EXECUTED.match(line)
        if m and m.group(1).startswith("/") and not m.group(1).startswith(NOT_IMAGE):
            truth.add(m.group(1))
    return truth


def test_every_successful_open_and_exec_is_reported(
    stack: Stack, containerd: Containerd, tmp_path: Path
) -> None:
    require(have_host_programs(), "python3.11 and strace are needed on the host to build the workload")
    rootfs = python_strace_rootfs(tmp_path / "rootfs")
    work = rootfs / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "config.ini").write_text("[a]\n")
    (work / "releases" / "v1").mkdir(parents=True)
    (work / "releases" / "v1" / "settings.txt").write_text("x=1\n")
    (work / "current").symlink_to("releases/v1")
    (work / DEEP).parent.mkdir(parents=True)
    (work / DEEP).write_text("deep\n")
    (work / "run.sh").write_text(SCRIPT)
    (work / "run.sh").chmod(0o755)
    image = containerd.import_image("recall", rootfs=rootfs)
    out = tmp_path / "out"
    out.mkdir()

    host_only = Path(f"/etc/snoop-host-only-{uuid.uuid4().hex}")
    host_only.write_text("host\n")
    try:
        pod = containerd.run_pod(
            "recall-0",
            {"app": (image, ["/usr/bin/strace", "-f", "-qq", "-y", "-o", "/out/trace",
                             "-e", "trace=%file,execveat", "/bin/sh", "/work/run.sh"])},
            mounts={"app": [("/out", str(out))]},
        )
        host_only.read_text()
        assert containerd.wait_exited(pod.containers["app"], timeout_s=60) == 0
    finally:
        host_only.unlink()

    truth = ground_truth((out / "trace").read_text())
    assert any(p.startswith("/usr/lib/python3.11/json/") for p in truth)  # the ground truth is real
    assert any("_sqlite3" in p for p in truth)
    reported = stack.wait_files(image.digest, truth)

    assert truth <= reported.keys()
    for wanted in ("/work/data/config.ini", "/work/current", "/work/releases/v1/settings.txt",
                   f"/work/{DEEP}", "/usr/bin/python3", "/usr/bin/python3.11"):
        assert wanted in reported, wanted
    # what the kernel loads without a syscall, and strace therefore cannot show: the dynamic loader
    # (PT_INTERP /lib64/ld-linux-x86-64.so.2: the /lib64 link, the loader's own link, and its target)
    loader = [p for p in reported if "ld-linux-x86-64.so.2" in p]
    assert "/lib64" in reported and "/usr/lib64/ld-linux-x86-64.so.2" in loader and len(loader) >= 2, loader
    assert all("exec" in reported[p]["kinds"] for p in [*loader, "/lib64"])
    assert not any("ld-linux" in p for p in truth)
    # nothing of the host: every reported path is in the image or was made by the workload
    strays = [p for p in reported if not os.path.lexists(os.fsencode(rootfs) + os.fsencode(p)) and p not in truth]
    assert strays == []
    assert str(host_only) not in reported
    assert not any(p.startswith(NOT_IMAGE) for p in reported)  # /out is a volume: excluded
