"""Image contents: what an inventory costs the agent and the collector, and how fast the reports read.

1. Agent: the inventory of a real Debian image (debootstrap with python3-pip, numpy, scipy, perl, git,
   vim, gcc: over 35,000 files) built by the agent's code in a fresh process, against a baseline in the
   same run: a bare ``os.walk`` with ``lstat`` of the same tree. CPU time and peak RSS of each process,
   chunks serialised as they would be sent.
2. Collector ingest of that inventory (its chunks, in order) on SQLite and PostgreSQL, against the same
   number of used-file rows ingested as one container's batch.
3. REST over a real ``snoop collector`` process: summary and packages of an image with 100,000 inventory
   rows, 500 packages and 1,000 container instances, p50/p95, against ``/api/v1/images`` (the image list);
   and the web view's image page of it: the first view (its treemap reads the whole inventory), again, and
   drilling down.

    .venv/bin/python bench/contents.py            (root: debootstrap, a throwaway PostgreSQL)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collector import latencies  # noqa: E402
from bench.report import update_section  # noqa: E402
from snoop.collector.grpc.messages import chunk_from_pb  # noqa: E402
from snoop.collector.storage.db import make_engine, make_sessionmaker  # noqa: E402
from snoop.collector.storage.migrate import upgrade  # noqa: E402
from snoop.collector.storage.write import ContainerIn, FileIn, ingest  # noqa: E402
from snoop.collector.storage.write_inventory import put_chunk  # noqa: E402
from snoop.v1 import snoop_pb2 as pb  # noqa: E402
from tests.conftest import free_port, wait_http  # noqa: E402
from tests.harness.debian import debian_rootfs  # noqa: E402
from tests.harness.postgres import Postgres  # noqa: E402

PACKAGES = "python3-pip,python3-numpy,python3-scipy,perl,git,vim,curl,openssl,ca-certificates,gcc"

# A fresh interpreter per mode, with the same imports: the difference of their peak RSS is the
# inventory's own memory.
AGENT_PROBE = """
import os, resource, sys, time, json
from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
root = {root!r}
started = time.process_time()
if {mode!r} == "walk":
    n = 0
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lstat(os.path.join(d, name)); n += 1
    out = {{"entries": n}}
else:
    if {mode!r} == "traced":
        import tracemalloc
        tracemalloc.start()
    chunks = files = size = 0
    for c in inventory_chunks(ImageTree([os.fsencode(root)]), Upload("bench", "sha256:b", "bench", "layers")):
        chunks += 1; files += len(c.files); size += len(c.SerializeToString())
    out = {{"chunks": chunks, "files": files, "bytes": size}}
    if {mode!r} == "traced":
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
out["cpu"] = time.process_time() - started
out["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def agent_probe(root: Path, mode: str) -> dict:
    code = AGENT_PROBE.format(root=str(root), mode=mode)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def collect_chunks(root: Path, digest: str) -> list[pb.InventoryChunk]:
    from snoop.agent.inventory.build import Upload, inventory_chunks
    from snoop.agent.inventory.tree import ImageTree

    return list(inventory_chunks(ImageTree([os.fsencode(root)]), Upload("bench", digest, "bench:1", "layers")))


def ingest_inventory(url: str, chunks: list[pb.InventoryChunk]) -> tuple[float, float]:
    """Seconds to store the inventory chunk by chunk; seconds to ingest as many used-file rows."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    for c in chunks:
        with sessions.begin() as s:
            outcome = put_chunk(s, chunk_from_pb(c), time.time_ns())
    inventory_s = time.perf_counter() - started
    assert outcome.complete, outcome
    files = [f.path for c in chunks for f in c.files]
    used = [container_in(0, "sha256:baseline", seen_now(files))]
    started = time.perf_counter()
    with sessions.begin() as s:
        ingest(s, used, time.time_ns())
    baseline_s = time.perf_counter() - started
    engine.dispose()
    return inventory_s, baseline_s


def seen_now(paths: list[bytes]) -> list[FileIn]:
    """Files used just now: a collector's retention would remove what was last seen long ago as it starts."""
    now = time.time_ns()
    return [(p, 1, now, now, 1) for p in paths]


def container_in(i: int, digest: str, files: list[FileIn]) -> ContainerIn:
    return ContainerIn(node=f"node-{i % 50}", container_id=f"c{i:063d}", name="app", namespace="bench",
                       pod=f"app-6d4cf56db6-{i:05d}", pod_uid=f"uid-{i}", image_digest=digest,
                       image_reference="registry/big:1", cgroup_id=i, cgroup_path="", workload_kind="",
                       workload_name="", started_at_ns=time.time_ns(), total_events=1, dropped_events=0,
                       files=tuple(files))


def big_image(url: str, inventory: int, packages: int, instances: int, used_pool: int, per_instance: int) -> None:
    """An image of ``inventory`` files in ``packages`` packages, run by ``instances`` containers that
    each used ``per_instance`` files out of ``used_pool``."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    paths = [b"/usr/lib/pkg%03d/file_%06d.so" % (i % packages, i) for i in range(inventory)]
    digest = "sha256:" + "b" * 64
    chunk_files = 5000
    index = 0
    for i in range(0, inventory, chunk_files):
        files = [pb.InventoryFile(path=p, type=pb.FILE_TYPE_FILE, size=1000 + n % 5000)
                 for n, p in enumerate(paths[i : i + chunk_files])]
        chunk = pb.InventoryChunk(agent_id="bench", image_digest=digest, image_reference="registry/big:1",
                                  upload_id="u1", index=index, files=files)
        index += 1
        with sessions.begin() as s:
            put_chunk(s, chunk_from_pb(chunk), time.time_ns())
    owned = [pb.InventoryPackage(type="deb", name=f"pkg{k:03d}", version="1.0", purl=f"pkg:deb/debian/pkg{k:03d}@1.0",
                                 files=paths[k::packages]) for k in range(packages)]
    done = pb.InventoryChunk(agent_id="bench", image_digest=digest, upload_id="u1", index=index, packages=owned,
                             done=pb.InventoryDone(source="layers", files=inventory))
    with sessions.begin() as s:
        assert put_chunk(s, chunk_from_pb(done), time.time_ns()).complete
    pool = paths[:: inventory // used_pool][:used_pool]
    for i in range(instances):
        start = i * per_instance % used_pool
        chosen = (pool + pool)[start : start + per_instance]
        with sessions.begin() as s:
            ingest(s, [container_in(i, digest, seen_now(chosen))], time.time_ns())
    engine.dispose()


def rest(url: str, n: int) -> dict[str, tuple[float, float, int]]:
    http = free_port()
    proc = subprocess.Popen([str(REPO / ".venv/bin/snoop"), "collector", "--db", url, "--http-listen",
                             f"127.0.0.1:{http}", "--grpc-listen", f"127.0.0.1:{free_port()}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http}"
    image = "/api/v1/images/registry/big:1"
    try:
        wait_http(base + "/readyz", proc=proc)
        return {
            "image page (HTML), first view": latencies(base, "/images/registry/big:1", [{}]),
            "image list (baseline)": latencies(base, "/api/v1/images", [{}] * n),
            "summary": latencies(base, image + "/summary", [{}] * n),
            "packages": latencies(base, image + "/packages", [{}] * n),
            "remove list, page of 1,000": latencies(base, image + "/files",
                                                    [{"used": "false", "limit": 1000}] * n),
            "image page (HTML), again": latencies(base, "/images/registry/big:1", [{}] * n),
            "image page (HTML), drill-down": latencies(base, "/images/registry/big:1",
                                                       [{"dir": f"/usr/lib/pkg{i:03d}"} for i in range(n)]),
        }
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    root = debian_rootfs("bookworm-bench", PACKAGES)
    results: dict = {mode: agent_probe(root, mode) for mode in ("walk", "inventory", "traced")}
    print(results, flush=True)
    chunks = collect_chunks(root, "sha256:" + "a" * 64)
    work = Path(tempfile.mkdtemp(prefix="snoop-bench-contents-"))
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="snoop-bench-postgres-")), free_port())
    postgres.start()
    try:
        for name, url in (("SQLite", f"sqlite:///{work}/ingest.db"), ("PostgreSQL", postgres.new_database())):
            results[name] = {"ingest": ingest_inventory(url, chunks)}
        for name, url in (("SQLite", f"sqlite:///{work}/big.db"), ("PostgreSQL", postgres.new_database())):
            big_image(url, 100_000, 500, 1000, 5000, 100)
            results[name]["rest"] = rest(url, args.requests)
            print(name, results[name], flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    text = render(results, args)
    print(text)
    if not args.no_write:
        update_section(REPO / "docs/benchmarks.md", "contents", text)
    return 0


def render(results: dict, args: argparse.Namespace) -> str:
    walk, inv = results["walk"], results["inventory"]
    lines = [
        "## Image contents",
        "",
        "`.venv/bin/python bench/contents.py` — the agent's inventory of a real Debian image (debootstrap: "
        f"{PACKAGES.replace(',', ', ')}), in a fresh process; the baseline is a bare `os.walk` + `lstat` of "
        "the same tree in the same run.",
        "",
        "| | entries | CPU | × walk | peak RSS | over the walk's | Python heap peak | sent |",
        "|---|---|---|---|---|---|---|---|",
        f"| bare walk (baseline) | {walk['entries']:,} | {walk['cpu']:.2f} s | ×1.0 | {walk['rss_kib'] / 1024:.1f} MiB "
        "| — | — | — |",
        f"| inventory (files, links, packages) | {inv['files']:,} files and links | {inv['cpu']:.2f} s | "
        f"×{inv['cpu'] / walk['cpu']:.1f} | {inv['rss_kib'] / 1024:.1f} MiB | "
        f"+{(inv['rss_kib'] - walk['rss_kib']) / 1024:.1f} MiB | {results['traced']['traced_peak'] / 2**20:.1f} MiB | "
        f"{inv['chunks']} chunks, {inv['bytes'] / 1e6:.1f} MB |",
        "",
        "Collector: that inventory stored chunk by chunk, against as many used-file rows ingested as one batch:",
        "",
        "| database | inventory ingest | used-file rows ingest (baseline) | × baseline |",
        "|---|---|---|---|",
    ]
    for name in ("SQLite", "PostgreSQL"):
        inventory_s, baseline_s = results[name]["ingest"]
        lines.append(f"| {name} | {inventory_s:.2f} s | {baseline_s:.2f} s | ×{inventory_s / baseline_s:.1f} |")
    lines += ["", f"REST over a real HTTP socket, {args.requests} requests each: an image with 100,000 inventory "
              "rows in 500 packages, 1,000 container instances using 5,000 of its files:", "",
              "| database | request | p50 | p95 | × image list p95 | response size |", "|---|---|---|---|---|---|"]
    for name in ("SQLite", "PostgreSQL"):
        rest_results = results[name]["rest"]
        base_p95 = rest_results["image list (baseline)"][1]
        for what, (p50, p95, size) in rest_results.items():
            lines.append(f"| {name} | {what} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | ×{p95 / base_p95:.1f} | "
                         f"{size / 1e3:.1f} kB |")
    lines += ["", "Reading it: the inventory walks each directory once per layer and reads the package "
              "databases; its memory is the chunk being built and the package lists, never the image (the "
              "Python heap peak, measured under tracemalloc in a third run, stays below the interpreter's "
              "import-time peak, so the process's peak RSS does not move). The summary and package reports "
              "start from the used rows and join the inventory by key, so they follow what was used, not the "
              "image's size; the remove list is paged in the database. The image page's first view (target "
              "≤ 300 ms) is a fresh collector's first request: its treemap reads the sums kept per directory "
              "when the inventory completed, its templates were compiled as the collector started, and what "
              "start-up made is kept out of the full collections that paused it by ~80 ms (it took 696 / 718 ms "
              "before those, and before this bench's data carried current times: with 1970's, the collector's "
              "retention was removing it while the requests ran). See \"One huge image\" for 1,000,000 files."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
