"""The slim image's layer and keep set from layer tarballs alone: hard links stay links, owners, modes and file
capabilities (extended attributes) survive, times are fixed, parents and symlink chains are kept, a named User
brings the user database, and the package database is cut to what is left."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from snoop.agent.inventory.layer_tree import LayerTree
from snoop.cli.slim.keep import Wanted, keep_set
from snoop.cli.slim.layer import write_layer

CAPABILITY = "SCHILY.xattr.security.capability"
STATUS = ("Package: tool\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"
          "Package: unused\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\n")


def member(tar: tarfile.TarFile, name: str, data: bytes | None = None, **fields: object) -> None:
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def base_layers() -> list[bytes]:
    bottom, top = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=bottom, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "usr", type=tarfile.DIRTYPE, mode=0o755)
        member(tar, "usr/bin", type=tarfile.DIRTYPE, mode=0o711, uid=0, gid=2)
        member(tar, "usr/bin/tool", b"T" * 100, mode=0o4755, uid=0, gid=0, mtime=12345,
               pax_headers={CAPABILITY: "\x01\x00\x00\x02"})
        member(tar, "usr/bin/tool-alias", type=tarfile.LNKTYPE, linkname="usr/bin/tool", mode=0o4755)
        member(tar, "bin", type=tarfile.SYMTYPE, linkname="usr/bin")
        member(tar, "etc", type=tarfile.DIRTYPE, mode=0o755)
        member(tar, "etc/passwd", b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", mode=0o644)
        member(tar, "etc/group", b"root:x:0:\n", mode=0o644)
        member(tar, "opt/unused.bin", b"U" * 1000, mode=0o644)
        member(tar, "var/lib/dpkg/status", STATUS.encode(), mode=0o644)
        member(tar, "var/lib/dpkg/info/tool.list", b"/usr/bin/tool\n/usr/bin/tool-alias\n", mode=0o644)
        member(tar, "var/lib/dpkg/info/unused.list", b"/opt/unused.bin\n", mode=0o644)
    with tarfile.open(fileobj=top, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "opt/.wh.unused.bin")  # deleted above, yet listed in dpkg: a package left without files
        member(tar, "app", type=tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000)
    return [bottom.getvalue(), top.getvalue()]


def test_layer_keeps_links_owners_capabilities_and_cuts_the_database(tmp_path: Path) -> None:
    blobs = base_layers()
    stream = lambda digest: iter([blobs[int(digest)]])  # noqa: E731

    def built() -> tuple[bytes, str]:
        tree = LayerTree()
        for n, blob in enumerate(blobs):
            tree.apply(iter([blob]), str(n))
        keep = keep_set(tree, Wanted([(b"/bin/tool", "file"), (b"/usr/bin/tool-alias", "file")]),
                        {"config": {"User": "app", "WorkingDir": "/app"}})
        work = tmp_path / f"w{len(os.listdir(tmp_path))}"
        work.mkdir()
        written = write_layer(["0", "1"], stream, tree, keep, work)
        return written.blob.read_bytes(), written.digest

    first, digest = built()
    assert built()[1] == digest  # the same base and evidence: the same bytes
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as layer:
        got = {m.name: m for m in layer.getmembers()}
        status = layer.extractfile("var/lib/dpkg/status").read().decode()  # type: ignore[union-attr]
    assert set(got) == {"app", "bin", "etc", "etc/group", "etc/passwd", "usr", "usr/bin", "usr/bin/tool",
                        "usr/bin/tool-alias", "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info",
                        "var/lib/dpkg/info/tool.list", "var/lib/dpkg/status"}
    tool, alias = got["usr/bin/tool"], got["usr/bin/tool-alias"]
    assert tool.isreg() and tool.size == 100 and tool.mode == 0o4755 and tool.mtime == 0
    assert tool.pax_headers[CAPABILITY] == "\x01\x00\x00\x02"
    assert alias.islnk() and alias.linkname == "usr/bin/tool"
    assert got["bin"].issym() and got["bin"].linkname == "usr/bin"
    assert (got["usr/bin"].mode, got["usr/bin"].gid) == (0o711, 2) and got["app"].uid == 1000
    assert status.startswith("Package: tool\n") and "unused" not in status


def tree_of_base() -> LayerTree:
    tree = LayerTree()
    for n, blob in enumerate(base_layers()):
        tree.apply(iter([blob]), str(n))
    return tree


def test_include_exclude_and_coherent_packages() -> None:
    tree = tree_of_base()
    alone = keep_set(tree, Wanted([(b"/usr/bin/tool", "file")]), {})
    assert b"/usr/bin/tool-alias" not in alone.entries and b"/etc/passwd" not in alone.entries  # no named User
    coherent = keep_set(tree, Wanted([(b"/usr/bin/tool", "file")], coherent_packages=True), {})
    assert b"/usr/bin/tool-alias" in coherent.entries  # every file of a package with a used file
    adjusted = keep_set(tree, Wanted([(b"/usr/bin/tool", "file")], include=[b"/etc", b"/nowhere"],
                                     exclude=[b"/etc/group"]), {})
    assert {b"/etc/passwd"} <= adjusted.entries and b"/etc/group" not in adjusted.entries
    assert adjusted.warnings == ["/nowhere (--include) is not in the image's layers: left out"]


def test_include_file_takes_slimtoolkit_s_format(tmp_path: Path) -> None:
    from snoop.cli.query import QueryError, Server
    from snoop.cli.slim.command import Request, _includes

    listed = tmp_path / "include.txt"
    listed.write_bytes(b"# kept by hand\n/etc/ssl/certs\n\n/usr/share/zoneinfo/UTC\n")
    request = Request("img", Server("http://x"), "", "", None, None, None, None, ["/opt/extra"], listed, [], False)
    assert _includes(request) == [b"/opt/extra", b"/etc/ssl/certs", b"/usr/share/zoneinfo/UTC"]
    bad = Request("img", Server("http://x"), "", "", None, None, None, None, ["relative"], None, [], False)
    with pytest.raises(QueryError, match="not an absolute path"):
        _includes(bad)
