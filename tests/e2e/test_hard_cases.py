"""DESIGN.md §4 on a real container: the probe workload (tests/harness/probe.c) under the real agent."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import eventually, require
from tests.e2e.conftest import Stack
from tests.harness.containerd import Containerd
from tests.harness.probe import have_compiler, probe_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

DEEP_PREFIX = "/tmp/deep/" + "d" * 200


@pytest.fixture(scope="module")
def probe_run(stack: Stack, containerd: Containerd, tmp_path_factory: pytest.TempPathFactory) -> dict:
    require(have_compiler(), "gcc and a static libc (libc6-dev) are needed to build the probe")
    rootfs = probe_rootfs(tmp_path_factory.mktemp("probe") / "rootfs")
    image = containerd.import_image("probe", rootfs=rootfs)
    pod = containerd.run_pod("probe-0", {"probe": (image, ["/bin/probe"])}, namespace="hard")
    assert containerd.wait_exited(pod.containers["probe"]) == 0
    files = stack.wait_files(image.digest, {"/app/child/c.txt", "/bin/busybox"})
    return {"image": image, "pod": pod, "files": files}


def test_relative_paths_resolve_against_cwd_and_dirfd(probe_run: dict) -> None:
    files = probe_run["files"]
    for path in ("/app/data/rel.txt", "/app/dir/inner2.txt", "/app/dir/inner.txt", "/app/fdir/f.txt"):
        assert path in files, path
    assert not any("rel.txt" in p and p != "/app/data/rel.txt" for p in files)


def test_short_lived_child_inherits_and_changes_cwd(probe_run: dict) -> None:
    assert "/app/child/c.txt" in probe_run["files"]
    assert "/app/dir/inherited.txt" in probe_run["files"]  # through its parent's directory fd


def test_symlinks_are_reported_with_targets(probe_run: dict) -> None:
    files = probe_run["files"]
    assert "/app/link.txt" in files and "/app/target.txt" in files
    # exec of ./true from /bin: the link, and busybox it points to, as executed
    assert "exec" in files["/bin/true"]["kinds"]
    assert "exec" in files["/bin/busybox"]["kinds"]
    assert "exec" in files["/bin/probe"]["kinds"]


def test_access_kinds(probe_run: dict) -> None:
    files = probe_run["files"]
    assert files["/app/stat-only.txt"]["kinds"] == ["stat"]
    assert files["/app/access-only.txt"]["kinds"] == ["stat"]
    assert "readlink" in files["/app/readlink-only"]["kinds"]
    assert "write" in files[next(p for p in files if p.startswith(DEEP_PREFIX))]["kinds"]


def test_non_utf8_name_survives_end_to_end(probe_run: dict) -> None:
    assert os.fsencode("/app/caf\udce9.txt") in {os.fsencode(p) for p in probe_run["files"]}


def test_path_max_path_is_whole(probe_run: dict) -> None:
    deep = [p for p in probe_run["files"] if p.startswith(DEEP_PREFIX) and p.endswith("/leaf")]
    assert len(deep) == 1 and len(deep[0]) > 4000


def test_failed_and_excluded_accesses_are_not_files(probe_run: dict, stack: Stack) -> None:
    files = probe_run["files"]
    assert "/app/missing.txt" not in files
    assert not any(p.startswith("/proc/") for p in files)
    assert stack.metric("snoop_events_failed_total") > 0
    assert stack.metric("snoop_paths_excluded_total") > 0


def test_exited_container_keeps_its_files_in_the_standalone_report(probe_run: dict, stack: Stack) -> None:
    path = stack.reports / "hard_probe-0.json"
    eventually(lambda: path.exists() and "/app/child/c.txt" in json.loads(path.read_text())["containers"][0]["files"],
               timeout_s=10, what="/app/child/c.txt in the report")  # reports are rewritten every 500 ms
    report = json.loads(path.read_text())
    assert (report["pod_name"], report["namespace"], report["node"]) == ("probe-0", "hard", "node-e2e")
    (container,) = report["containers"]
    assert container["name"] == "probe"
    assert container["container_id"] == probe_run["pod"].containers["probe"]
    assert container["image_digest"] == probe_run["image"].digest
    assert container["unique_files"] == len(container["files"])
    assert container["total_events"] >= container["unique_files"]
    kept = {p for p, f in probe_run["files"].items() if f["type"] not in ("dir", "runtime")}
    dirs = {p for p, f in probe_run["files"].items() if f["type"] == "dir"}
    assert kept <= set(container["files"]) and dirs <= set(container["directories"])
    assert not dirs & set(container["files"])
    assert "/app/dir" in container["directories"]  # opened with O_DIRECTORY: listed, never kept as a file
    assert report["dropped_events"] == 0
