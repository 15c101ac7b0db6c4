"""What ``snoop slim`` gives and costs, per test image: files and bytes of the base and of the slim image
built from a real agent's evidence (the workloads of tests/e2e/test_slim.py, run through containerd's CRI),
and the command's wall time and peak memory (VmHWM, polled), against the base's size as the baseline.

    .venv/bin/python bench/slim.py        (root: containerd, BPF, debootstrap)
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import update_section  # noqa: E402
from tests.conftest import SNOOP, Process, free_port, wait_http  # noqa: E402
from tests.e2e.conftest import Stack, start_agent  # noqa: E402
from tests.e2e.test_slim import layer_of, python_app_image, run_to_end  # noqa: E402
from tests.harness.containerd import Containerd  # noqa: E402
from tests.harness.debian import debian_rootfs  # noqa: E402
from tests.harness.images import busybox_rootfs  # noqa: E402


def peak_run(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak MiB, stdout) of a command, its VmHWM polled every 20 ms."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))))
        except (OSError, StopIteration):
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return time.perf_counter() - started, peak / 1024, out


def base_size(tar: Path) -> tuple[int, int]:
    """(files, bytes) of an image's OCI layout tar: its layers' regular files, each path once (top wins)."""
    sizes: dict[str, int] = {}
    with tarfile.open(tar) as outer:
        for member in outer.getmembers():
            if member.name.startswith("blobs/sha256/") and member.size > 10_000:
                data = outer.extractfile(member)
                assert data is not None
                try:
                    with tarfile.open(fileobj=io.BytesIO(data.read())) as layer:
                        sizes.update({m.name: m.size for m in layer.getmembers() if m.isreg()})
                except tarfile.TarError:
                    continue
    return len(sizes), sum(sizes.values())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="snoop-bench-slim-"))
    containerd = Containerd(work / "containerd")
    containerd.start()
    http, grpc_port = free_port(), free_port()
    collector = Process(["collector", "--db", f"sqlite:///{work}/snoop.db", "--http-listen", f"127.0.0.1:{http}",
                         "--grpc-listen", f"127.0.0.1:{grpc_port}"], work / "collector.log")
    wait_http(f"http://127.0.0.1:{http}/readyz", proc=collector.proc)
    agent, metrics = start_agent(containerd, work / "agent.log", "--collector", f"127.0.0.1:{grpc_port}",
                                 "--batch-interval", "200ms")
    stack = Stack(f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc_port}", metrics, work, agent, collector)
    rows = []
    try:
        bb_root = busybox_rootfs(work / "bb")
        (bb_root / "etc/greeting").write_text("hello\n")
        cases = [("busybox-static", containerd.import_image("bench-bb", rootfs=bb_root),
                  ["/bin/sh", "-c", "cat /etc/greeting"], {"/etc/greeting"},
                  containerd.root / "build" / "bench-bb" / "image.tar")]
        py_tar = python_app_image(debian_rootfs(), work / "py")
        cases.append(("Debian 12 + python3, app layer", containerd.import_image("bench-py", tar=py_tar), [],
                      {"/app/dl", "/usr/bin/sort"}, py_tar))
        for name, image, command, wanted, tar in cases:
            def seen(digest: str = image.digest, paths: set[str] = wanted) -> object:
                return stack.wait_files(digest, paths)

            run_to_end(containerd, image, command, f"bench-{image.digest[7:15]}", seen)
            out = work / f"{image.digest[7:19]}.tar"
            seconds, peak, _ = peak_run([str(SNOOP), "slim", image.digest, "--server", stack.base, "--containerd",
                                         containerd.endpoint, "--output", str(out)])
            layer = layer_of(out)
            kept = [m for m in layer.getmembers() if m.isreg()]
            files, size = base_size(tar)
            rows.append(f"| {name} | {files:,} | {size / 1e6:.1f} MB | {len(kept):,} | "
                        f"{sum(m.size for m in kept) / 1e6:.2f} MB | {sum(m.size for m in kept) / size:.1%} | "
                        f"{seconds:.1f} s | {peak:.0f} MiB |")
    finally:
        agent.stop()
        collector.stop()
        containerd.stop()
    table = "\n".join(rows)
    update_section(REPO / "docs/benchmarks.md", "slim", f"""## Slim images

`.venv/bin/python bench/slim.py` — each test image of `tests/e2e/test_slim.py` runs its workload through containerd's
CRI under the real agent; `snoop slim --output` then builds the slim image from the collector's evidence and the
base's layers in containerd's content store. Files and bytes are the regular files of the base's layers (each path
once) and of the slim image's one layer; time and peak memory (VmHWM) are the whole command's.

| image | base files | base bytes | slim files | slim bytes | × base | `snoop slim` time | peak memory |
|---|---|---|---|---|---|---|---|
{table}

Reading it: the slim image keeps what the containers used, what it needs to run (parents, links, the user
database for a named `User`) and the package records of the packages left; the time is two passes over the base's
layers (one to learn the tree, one to copy what is kept), decompression included.
""")
    print(table)


if __name__ == "__main__":
    main()
