"""Image inventories on both databases: chunks stored in order and idempotently, then the summary,
packages, remove list and diff read against what containers used."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from snoop.collector.grpc.messages import chunk_from_pb
from snoop.collector.storage.write import ingest
from snoop.collector.storage.write_inventory import put_chunk
from snoop.v1 import snoop_pb2 as pb
from tests.collector.conftest import container

R, X = 1, 4
STATUS = """Package: tool
Status: install ok installed
Version: 1.0-1
Architecture: amd64

Package: docs
Status: install ok installed
Version: 2:3.1
Architecture: all

Package: gone
Status: deinstall ok config-files
Version: 0.1
"""


def small_image(root: Path) -> Path:
    """/usr/bin/tool (dpkg: tool) with a hard link, /usr/share/doc/a and b (dpkg: docs), /bin -> usr/bin,
    /etc/conf (no package): 4 files of 100+200+300+400 bytes, the hard link counted once."""
    for d in ("usr/bin", "usr/share/doc", "etc", "var/lib/dpkg/info"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/tool").write_bytes(b"t" * 100)
    os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
    (root / "usr/share/doc/a").write_bytes(b"a" * 200)
    (root / "usr/share/doc/b").write_bytes(b"b" * 300)
    (root / "etc/conf").write_bytes(b"c" * 400)
    (root / "bin").symlink_to("usr/bin")
    (root / "var/lib/dpkg/status").write_text(STATUS)
    (root / "var/lib/dpkg/info/tool.list").write_text("/.\n/bin\n/bin/tool\n/bin/tool-alias\n")
    (root / "var/lib/dpkg/info/docs.list").write_text("/usr/share/doc\n/usr/share/doc/a\n/usr/share/doc/b\n")
    return root


def chunks_of(root: Path, digest: str = "sha256:aaa", chunk_files: int = 3) -> list[pb.InventoryChunk]:
    upload = Upload("node-a/inventory", digest, "app:1", "layers")
    return list(inventory_chunks(ImageTree([os.fsencode(root)]), upload, chunk_files=chunk_files))


def put_all(client: TestClient, chunks: list[pb.InventoryChunk]) -> list[tuple[bool, str]]:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    out = []
    for c in chunks:
        with sessions.begin() as s:
            outcome = put_chunk(s, chunk_from_pb(c), now_ns=5)
        out.append((outcome.complete, outcome.error))
    return out


def use(client: TestClient, files: dict[bytes, int], cid: str = "c1", digest: str = "sha256:aaa",
        types: dict[bytes, int] | None = None) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ingest(s, [container(cid, digest=digest, files=files, types=types)], now_ns=1)


def test_summary_counts_used_unused_and_created(client: TestClient, tmp_path: Path) -> None:
    chunks = chunks_of(small_image(tmp_path / "img"))
    assert len(chunks) > 2  # several chunks, in order
    assert put_all(client, chunks)[-1] == (True, "")
    use(client, {b"/usr/bin/tool": X, b"/bin": R, b"/tmp/scratch": R, b"/etc": R, b"/etc/hosts": R},
        types={b"/etc": pb.FILE_TYPE_DIR, b"/etc/hosts": pb.FILE_TYPE_RUNTIME, b"/tmp/scratch": pb.FILE_TYPE_FILE})
    s = client.get("/api/v1/images/app:1/summary").json()
    inventory = 4 + 1 + 1 + 3  # files, hard link, /bin symlink, dpkg status and lists
    status_bytes = sum(len(p.read_bytes()) for p in (tmp_path / "img/var/lib/dpkg").rglob("*") if p.is_file())
    assert s["inventory"] == {"files": inventory, "bytes": 1000 + status_bytes, "source": "layers"}
    assert s["used"] == {"files": 2, "bytes": 100}  # the tool and the /bin link
    assert s["unused"] == {"files": inventory - 2, "bytes": 900 + status_bytes}
    assert s["runtime_created"] == {"files": 1}  # /tmp/scratch; a directory or a runtime mount is none
    assert s["packages"] == {"total": 2, "used": 1, "unused": 1}
    assert s["coverage"]["instances"] == 1 and s["coverage"]["last_new_file"]
    assert s["image"]["digest"] == "sha256:aaa" and s["image"]["used_bytes"] == 100


def test_packages_and_remove_list(client: TestClient, tmp_path: Path) -> None:
    put_all(client, chunks_of(small_image(tmp_path / "img")))
    use(client, {b"/usr/share/doc/a": R})
    body = client.get("/api/v1/images/app:1/packages").json()
    by_name = {p["name"]: p for p in body["packages"]}
    assert set(by_name) == {"tool", "docs"}  # "gone" is not installed
    docs, tool = by_name["docs"], by_name["tool"]
    assert [docs[k] for k in ("files", "bytes", "used_files", "used_bytes", "used")] == [2, 500, 1, 200, True]
    assert docs["purl"] == "pkg:deb/debian/docs@2%3A3.1?arch=all"
    # The list names /bin/tool; the file lives at /usr/bin/tool (/bin is a link): owned all the same.
    assert (tool["files"], tool["bytes"], tool["used"]) == (2, 100, False)
    unused = client.get("/api/v1/images/app:1/packages", params={"used": "false", "format": "text"}).text
    assert unused == "tool\n"
    remove = client.get("/api/v1/images/app:1/files", params={"used": "false", "format": "text"}).content
    assert b"/usr/share/doc/b\n" in remove and b"/usr/share/doc/a\n" not in remove
    listed = client.get("/api/v1/images/app:1/files", params={"used": "false", "prefix": "/usr"}).json()
    assert {f["path"]: (f["size"], f["package"]) for f in listed["files"]} == {
        "/usr/bin/tool": (100, "tool"), "/usr/bin/tool-alias": (100, "tool"), "/usr/share/doc/b": (300, "docs")}
    page = client.get("/api/v1/images/app:1/files", params={"used": "false", "limit": 1, "offset": 1}).json()
    assert page["total"] == 9 - 1 and len(page["files"]) == 1
    used = client.get("/api/v1/images/app:1/files").json()["files"]
    assert used == [{**used[0], "path": "/usr/share/doc/a", "size": 200, "package": "docs"}]
    by_workload = client.get("/api/v1/workloads/shop/web/files").json()["files"]
    assert [(f["path"], f["size"], f["package"]) for f in by_workload] == [("/usr/share/doc/a", 200, "docs")]
    image = client.get("/api/v1/images").json()["images"][0]
    assert image["used_bytes"] == 200 and image["bytes"] > 1000


def test_chunks_are_idempotent_and_in_order(client: TestClient, tmp_path: Path) -> None:
    chunks = chunks_of(small_image(tmp_path / "img"))
    assert put_all(client, chunks[:2] + chunks[1:2]) == [(False, ""), (False, ""), (False, "")]  # a repeat
    complete, error = put_all(client, chunks[3:4])[0]
    assert not complete and error.startswith("out-of-order")
    assert put_all(client, chunks[2:])[-1] == (True, "")
    assert client.get("/api/v1/images/app:1/summary").json()["inventory"]["files"] == 9
    again = chunks_of(tmp_path / "img")  # another agent's upload, too late: the inventory stands
    assert put_all(client, again[:1]) == [(False, "superseded: another upload completed this image's inventory")]
    assert put_all(client, chunks[-1:]) == [(True, "")]  # a repeat of the completing upload's last chunk


def test_a_new_upload_starts_over_and_a_short_one_never_completes(client: TestClient, tmp_path: Path) -> None:
    first = chunks_of(small_image(tmp_path / "img"))
    put_all(client, first[:2])
    second = chunks_of(tmp_path / "img")
    assert put_all(client, second[:1]) == [(False, "")]
    assert put_all(client, first[2:3])[0][1].startswith("superseded")
    last = second[-1]
    last.done.files += 1  # announces a file that never came
    assert put_all(client, second[1:-1] + [last])[-1][1] == "incomplete: 9 of 10 files arrived"
    assert client.get("/api/v1/images/app:1/summary").json()["inventory"]["files"] is None
    assert client.get("/api/v1/images/app:1/files", params={"used": "false"}).status_code == 409


def test_diff_names_packages_and_bytes(client: TestClient, tmp_path: Path) -> None:
    root = small_image(tmp_path / "img")
    put_all(client, chunks_of(root, "sha256:aaa"))
    put_all(client, chunks_of(root, "sha256:bbb"))
    use(client, {b"/usr/bin/tool": X})
    use(client, {b"/usr/share/doc/a": R}, cid="c2", digest="sha256:bbb")
    d = client.get("/api/v1/diff", params={"base": "sha256:aaa", "head": "sha256:bbb"}).json()
    assert d["packages"] == {"added": [{"type": "deb", "name": "docs", "version": "2:3.1"}],
                             "removed": [{"type": "deb", "name": "tool", "version": "1.0-1"}]}
    assert d["bytes"] == {"base_used": 100, "head_used": 200}


def test_bad_entries_are_refused_alone(client: TestClient, tmp_path: Path) -> None:
    chunks = chunks_of(small_image(tmp_path / "img"), chunk_files=100)
    chunks[0].files.append(pb.InventoryFile(path=b"relative", type=pb.FILE_TYPE_FILE, size=1))
    chunks[0].files.append(pb.InventoryFile(path=b"/x" * 3000, type=pb.FILE_TYPE_FILE, size=1))
    chunks[-1].done.files += 2
    assert put_all(client, chunks)[-1] == (True, "")
    assert client.get("/api/v1/images/app:1/summary").json()["inventory"]["files"] == 9
