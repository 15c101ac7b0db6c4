"""Directories and runtime mounts are reported typed, and kept out of keep-lists and diffs."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from snoop.collector.storage.write import ingest
from snoop.common.file_types import DIR, FILE, RUNTIME, SYMLINK, UNKNOWN
from tests.collector.conftest import container

TYPED = {b"/": DIR, b"/bin": DIR, b"/bin/sh": SYMLINK, b"/bin/busybox": FILE, b"/etc/hosts": RUNTIME,
         b"/etc/app.conf": UNKNOWN}


def typed_container(cid: str, digest: str, types: dict[bytes, int], pod: str = "web-0"):  # noqa: ANN201
    c = container(cid, digest=digest, reference=digest, pod=pod)
    return replace(c, files=tuple((p, 1, 1_000, 1_000, t) for p, t in types.items()))


def test_types_reach_every_view(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        ingest(s, [typed_container("c1", "sha256:t1", TYPED)], now_ns=1_000)
        # a second instance learns what the first could not: the better-known type wins in the merge
        ingest(s, [typed_container("c2", "sha256:t1", {b"/etc/app.conf": FILE, b"/": UNKNOWN}, pod="web-1")],
               now_ns=2_000)
    files = {f["path"]: f["type"] for f in client.get("/api/v1/images/sha256:t1/files").json()["files"]}
    assert files == {"/": "dir", "/bin": "dir", "/bin/sh": "symlink", "/bin/busybox": "file",
                     "/etc/hosts": "runtime", "/etc/app.conf": "file"}
    keep = client.get("/api/v1/images/sha256:t1/files", params={"format": "text"}).text.splitlines()
    assert keep == ["/bin/busybox", "/bin/sh", "/etc/app.conf"]
    dirs = client.get("/api/v1/images/sha256:t1/files", params={"format": "text", "type": "dir"}).text
    assert dirs.splitlines() == ["/", "/bin"]
    assert client.get("/api/v1/images/sha256:t1/files", params={"type": "folder"}).status_code == 422
    csv = client.get("/api/v1/images/sha256:t1/files", params={"format": "csv", "prefix": "/etc/h"}).text
    assert csv.splitlines()[1].endswith(",runtime,,")  # no inventory: size and package unknown

    (report,) = client.get("/api/v1/pods/shop/web-0/report").json()["containers"]
    assert report["files"] == ["/bin/busybox", "/bin/sh", "/etc/app.conf"]
    assert report["directories"] == ["/", "/bin"] and report["runtime_provided"] == ["/etc/hosts"]


def test_diff_ignores_directories_and_runtime_mounts(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        ingest(s, [typed_container("c1", "sha256:d1", {b"/bin/busybox": FILE})], now_ns=1_000)
        ingest(s, [typed_container("c2", "sha256:d2", {b"/bin/busybox": FILE, b"/": DIR, b"/etc/hosts": RUNTIME,
                                                       b"/new": FILE}, pod="web-1")], now_ns=2_000)
    d = client.get("/api/v1/diff", params={"base": "sha256:d1", "head": "sha256:d2"}).json()
    assert d["added"] == ["/new"] and d["removed"] == []
