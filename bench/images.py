"""The shipped images: their sizes, and what the agent and the collector use when run from them as the manifests
say (tests/deploy/kubelet.py) while pods come and go. These are the figures behind deploy/'s resource requests
and limits, written to docs/deploy.md.

    .venv/bin/python bench/images.py [--pods 40]      (root: builds images, runs containerd and PostgreSQL)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import update_section  # noqa: E402
from snoop.agent.resolver.cgroup import cgroup2_mount  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.deploy.kubelet import plan, process, start, stop  # noqa: E402
from tests.deploy.manifests import import_shipped_images, node_for, template  # noqa: E402
from tests.harness.buildah import buildah  # noqa: E402
from tests.harness.containerd import Containerd  # noqa: E402
from tests.harness.fake_kube_api import FakeKubeApi  # noqa: E402
from tests.harness.images import busybox_rootfs  # noqa: E402
from tests.harness.postgres import Postgres  # noqa: E402

WORKLOAD = "find / -xdev -type f 2>/dev/null | head -2000 | while read f; do cat \"$f\" >/dev/null 2>&1; done"


def usage(containerd: Containerd, container_id: str) -> tuple[float, float, float, float]:
    """(RSS MiB now, peak RSS MiB, CPU seconds) of the container's main process, and the peak MiB of its
    cgroup (its high-water mark: what a limit sees, children and page cache included)."""
    status = process(containerd, container_id)
    pid = int(status["Pid"])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks
    return (int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024, cpu,
            cgroup_peak_bytes(pid) / 2**20)


def cgroup_peak_bytes(pid: int) -> int:
    """The memory controller's high-water mark: memory.peak on cgroup v2, max_usage_in_bytes on v1 (this
    machine mounts the controllers hybrid, memory on v1)."""
    lines = dict(line.split(":", 2)[1:] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    if "memory" in lines:
        return int(Path("/sys/fs/cgroup/memory", lines["memory"].lstrip("/"), "memory.max_usage_in_bytes").read_text())
    return int(Path(cgroup2_mount(), lines[""].lstrip("/"), "memory.peak").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="snoop-bench-images-"))
    containerd = Containerd(work / "containerd")
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="snoop-bench-postgres-")), free_port())
    containerd.start()
    postgres.start()
    api = FakeKubeApi()
    try:
        tags = import_shipped_images(containerd)
        sizes = {part: buildah("images", "--format", "{{.Size}}", tag).split("\n")[0] for part, tag in tags.items()}
        node = node_for(containerd, "node-bench", work, postgres.new_database(), api)
        plans = {"collector": plan(template("Deployment", "snoop-collector"), "snoop-collector-0", "snoop-system",
                                   str(uuid.uuid4()), node),
                 "agent": plan(template("DaemonSet", "snoop-agent"), "snoop-agent-0", "snoop-system",
                               str(uuid.uuid4()), node)}
        pods = {part: start(containerd, p) for part, p in plans.items()}
        ids = {part: pods[part].containers[part] for part in plans}
        time.sleep(15)
        idle = {part: usage(containerd, cid) for part, cid in ids.items()}
        image = containerd.import_image("bench-images", rootfs=busybox_rootfs(work / "rootfs"))
        started = time.monotonic()
        for i in range(args.pods):
            pod = containerd.run_pod(f"churn-{i}", {"app": (image, ["/bin/sh", "-c", WORKLOAD])})
            containerd.wait_exited(pod.containers["app"], timeout_s=120)
            containerd.remove_pod(pod)
        churn_s = time.monotonic() - started
        time.sleep(5)
        busy = {part: usage(containerd, cid) for part, cid in ids.items()}
        for part in ("agent", "collector"):
            stop(containerd, pods[part], plans[part].containers[0].grace_s)
    finally:
        api.close()
        containerd.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(postgres.root, ignore_errors=True)

    rows = "\n".join(
        f"| {part} | {sizes[part]} | {idle[part][0]:.0f} MiB | {busy[part][0]:.0f} MiB | {busy[part][1]:.0f} MiB | "
        f"{busy[part][3]:.0f} MiB | "
        f"{busy[part][2] - idle[part][2]:.1f} s ({(busy[part][2] - idle[part][2]) / churn_s * 1000:.0f}m) |"
        for part in ("agent", "collector"))
    update_section(REPO / "docs" / "deploy.md", "images", f"""\
`.venv/bin/python bench/images.py --pods {args.pods}` — both images built by buildah from deploy/'s Dockerfiles on a
base made as Debian's `bookworm-slim` is, then run through containerd's CRI exactly as the manifests say; the agent
traces {args.pods} short-lived pods, one after another, each reading the files of its image (busybox) ({churn_s:.0f} s).

| part | image | RSS idle | RSS after the churn | peak RSS | container's cgroup peak | CPU during the churn (average) |
|---|---|---|---|---|---|---|
{rows}

Reading it: the agent process holds Python, gRPC and its data (per-container file sets, the spool); BCC's embedded
LLVM lives only in the child that compiles and loads the BPF program in the first seconds, which the cgroup's peak
includes (with the page cache of the kernel headers it compiled against; a cgroup is charged only for pages it
touched first, so the collector's, whose libraries were cached already, is below its RSS). The collector's is
Python with FastAPI, SQLAlchemy and gRPC loaded. The manifests request the idle memory rounded up (agent 128 MiB,
collector 128 MiB) and limit the agent to 512 MiB (above the compile's peak, room for its file sets on a busy
node) and the collector to 1 GiB (room for whole reports of 100,000-file images, see benchmarks.md).
CPU: the agent's average during churn,
{(busy['agent'][2] - idle['agent'][2]) / churn_s * 1000:.0f}m here, is its request's order (50m; it idles near
1% of a core); the collector's 100m covers ingest of tens of thousands of rows/s.""")


if __name__ == "__main__":
    main()
