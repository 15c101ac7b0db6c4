"""Least privilege from the write set: the grouping rules, the notes, and the patch (both databases)."""

from __future__ import annotations

from dataclasses import replace

import yaml
from fastapi.testclient import TestClient

from snoop.collector.grpc.messages import chunk_from_pb
from snoop.collector.reports.hardening import volume_name, writable_directories
from snoop.collector.storage.write import ingest
from snoop.collector.storage.write_inventory import put_chunk
from snoop.common.file_types import FILE, RUNTIME
from snoop.v1 import snoop_pb2 as pb
from tests.collector.conftest import container

READ, WRITE = 1, 2


def test_each_write_is_covered_by_the_narrowest_directory_and_none_by_two() -> None:
    written = {b"/tmp/a", b"/tmp/b/c", b"/tmp-x/y", b"/var/cache/app/f", b"/var/cache/app/sub/g", b"/run/app.pid"}
    assert writable_directories(written) == [b"/run", b"/tmp", b"/tmp-x", b"/var/cache/app"]
    assert writable_directories({b"/data.db", b"/tmp/x"}) == [b"/"]  # a file in / itself: nothing narrower
    assert writable_directories(set()) == []


def test_volume_names_are_dns_labels_and_unique() -> None:
    names = {volume_name(p) for p in (b"/tmp", b"/TMP", b"/var/cache/app", b"/" + b"x" * 300)}
    assert len(names) == 4
    assert all(len(n) <= 63 and n.replace("-", "").isalnum() and n == n.lower() for n in names)


def store(client: TestClient) -> None:
    app = client.app
    web = replace(container("c1", files={b"/tmp/upload.part": WRITE, b"/var/cache/app/index": READ | WRITE,
                                         b"/run/app.pid": WRITE, b"/etc/passwd": READ, b"/etc/hosts": WRITE},
                            types={b"/etc/hosts": RUNTIME, b"/tmp/upload.part": FILE}),
                  workload_kind="Deployment", workload_name="web")
    sidecar = replace(container("c2", files={b"/bin/sh": READ}), name="sidecar", workload_kind="Deployment",
                      workload_name="web")
    with app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [web, sidecar], now_ns=5)
        files = [pb.InventoryFile(path=p, type=pb.FILE_TYPE_FILE, size=10)
                 for p in (b"/var/cache/app/seed", b"/etc/passwd", b"/bin/sh")]
        chunks = [pb.InventoryChunk(agent_id="a", image_digest="sha256:aaa", upload_id="u", index=0, files=files),
                  pb.InventoryChunk(agent_id="a", image_digest="sha256:aaa", upload_id="u", index=1,
                                    done=pb.InventoryDone(source="layers", files=3))]
        for chunk in chunks:
            put_chunk(s, chunk_from_pb(chunk), 5)


def test_the_hardening_of_a_workload(client: TestClient) -> None:
    store(client)
    r = client.get("/api/v1/workloads/shop/web/hardening")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "Deployment"
    by_name = {c["name"]: c["writable"] for c in body["containers"]}
    assert by_name == {
        "app": [{"path": "/run", "files_written": 1, "image_files": 0},
                {"path": "/tmp", "files_written": 1, "image_files": 0},
                {"path": "/var/cache/app", "files_written": 1, "image_files": 1}],
        "sidecar": [],
    }
    assert any("/var/cache/app holds 1 files of the image" in n for n in body["notes"])
    pod = body["patch"]["spec"]["template"]["spec"]
    app = next(c for c in pod["containers"] if c["name"] == "app")
    assert app["securityContext"] == {"readOnlyRootFilesystem": True}
    assert [m["mountPath"] for m in app["volumeMounts"]] == ["/run", "/tmp", "/var/cache/app"]
    assert {v["name"] for v in pod["volumes"]} == {m["name"] for m in app["volumeMounts"]}
    assert all(v["emptyDir"] == {} for v in pod["volumes"])
    sidecar = next(c for c in pod["containers"] if c["name"] == "sidecar")
    assert sidecar == {"name": "sidecar", "securityContext": {"readOnlyRootFilesystem": True}}
    as_yaml = client.get("/api/v1/workloads/shop/web/hardening", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == body["patch"]
    assert client.get("/api/v1/workloads/shop/nothing/hardening").status_code == 404
