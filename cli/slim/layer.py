"""The slim image's one layer: the kept entries of the base's layers, as the top-most layer left them.

The base's layers are streamed once more, bottom first; the last header of each kept path wins (a
whiteout or an opaque directory can only have removed paths that are no longer kept). Contents go to a
spool file on disk, never to memory. The layer is then written in path order with times fixed, so the
same kept set of the same base gives the same bytes: owners, modes and extended attributes (file
capabilities) as the base had them, hard links kept as links.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from snoop.agent.inventory.layer_tree import ChunkReader, LayerTree, member_path
from snoop.cli.slim.keep import KeepSet

EPOCH = 0  # every time in the layer: reproducible
XATTR_PREFIXES = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")


@dataclass(frozen=True)
class Written:
    blob: Path          # the gzip-compressed layer
    digest: str         # of the blob
    size: int
    diff_id: str        # of the uncompressed tar
    entries: int
    bytes: int          # of regular files, hard links once


class _Spool:
    """Contents of kept files, appended to one temporary file: (offset, size) per content."""

    def __init__(self, work: Path) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=work)  # noqa: SIM115 - closed by write_layer

    def put(self, source: IO[bytes]) -> tuple[int, int]:
        self.file.seek(0, os.SEEK_END)
        start = self.file.tell()
        shutil.copyfileobj(source, self.file, 1 << 20)
        return start, self.file.tell() - start

    def get(self, where: tuple[int, int]) -> IO[bytes]:
        return io.BufferedReader(_Window(self.file, *where), 1 << 20)


class _Window(io.RawIOBase):
    """One content of the spool, read as a file of its own."""

    def __init__(self, f: IO[bytes], start: int, size: int) -> None:
        self._f, self._pos, self._end = f, start, start + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._end - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._pos)
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def write_layer(layers: list[str], stream: Callable[[str], Iterable[bytes]], tree: LayerTree, keep: KeepSet,
                work: Path) -> Written:
    """Streams ``layers`` (bottom first) once more, keeping the last header and contents of each kept path
    (and the contents of hard-link groups a kept path belongs to), then writes the layer under ``work``."""
    wanted = keep.entries | keep.dirs | set(keep.rewritten)
    shared = {e.st.st_ino for p in keep.entries if (e := tree.lookup(p)) is not None and e.st.st_nlink > 1}
    headers: dict[bytes, tarfile.TarInfo] = {}
    contents: dict[bytes, tuple[int, int]] = {}
    by_inode: dict[int, tuple[int, int]] = {}
    spool = _Spool(work)
    try:
        for digest in layers:
            with tarfile.open(fileobj=io.BufferedReader(ChunkReader(stream(digest)), 1 << 20), mode="r|*") as tar:
                for member in tar:
                    path = member_path(member.name)
                    inode = _inode(tree, path) if member.isreg() and shared else 0
                    if path not in wanted and inode not in shared:
                        continue
                    if path in wanted:
                        headers[path] = member
                    if member.isreg() and path not in keep.rewritten:
                        f = tar.extractfile(member)
                        assert f is not None
                        where = spool.put(f)
                        contents[path] = where
                        if inode in shared:
                            by_inode[inode] = where
        return _write(tree, keep, headers, contents, by_inode, spool, work)
    finally:
        spool.file.close()


def _inode(tree: LayerTree, path: bytes) -> int:
    entry = tree.lookup(path)
    return entry.st.st_ino if entry is not None and entry.st.st_nlink > 1 else 0


def _header(path: bytes, base: tarfile.TarInfo | None, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(os.fsdecode(path.lstrip(b"/")))
    info.type = kind
    info.mtime = EPOCH
    if base is not None:
        info.mode, info.uid, info.gid = base.mode, base.uid, base.gid
        info.uname, info.gname = base.uname, base.gname
        info.pax_headers = {k: v for k, v in base.pax_headers.items() if k.startswith(XATTR_PREFIXES)}
        info.devmajor, info.devminor = base.devmajor, base.devminor
    else:
        info.mode = 0o755
    return info


def _write(tree: LayerTree, keep: KeepSet, headers: dict[bytes, tarfile.TarInfo],
           contents: dict[bytes, tuple[int, int]], by_inode: dict[int, tuple[int, int]], spool: _Spool,
           work: Path) -> Written:
    raw = work / "layer.tar"
    linked: dict[int, bytes] = {}  # inode -> the path written with its contents
    entries = total = 0
    with open(raw, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(keep.entries | keep.dirs | set(keep.rewritten)):
            base = headers.get(path)
            if path in keep.dirs:
                tar.addfile(_header(path, base, tarfile.DIRTYPE))
            elif path in keep.rewritten:
                info = _header(path, base, tarfile.REGTYPE)
                info.size = len(keep.rewritten[path])
                tar.addfile(info, io.BytesIO(keep.rewritten[path]))
                total += info.size
            elif base is None:
                continue  # in the tree but in no layer's headers: cannot be
            elif base.issym():
                info = _header(path, base, tarfile.SYMTYPE)
                info.linkname = base.linkname
                tar.addfile(info)
            elif base.isreg() or base.islnk():
                inode = _inode(tree, path)
                if inode and inode in linked:
                    info = _header(path, base, tarfile.LNKTYPE)
                    info.linkname = os.fsdecode(linked[inode].lstrip(b"/"))
                    tar.addfile(info)
                else:
                    where = contents.get(path) or by_inode.get(inode)
                    if where is None:
                        keep.warnings.append(f"{os.fsdecode(path)}: a hard link whose contents no layer holds: "
                                             "left out")
                        continue
                    info = _header(path, base, tarfile.REGTYPE)
                    info.size = where[1]
                    tar.addfile(info, spool.get(where))
                    total += info.size
                    if inode:
                        linked[inode] = path
            else:  # fifos and device nodes, as the base had them
                tar.addfile(_header(path, base, base.type))
            entries += 1
    diff_id = _sha256(raw)
    blob = work / "layer.tar.gz"
    with open(raw, "rb") as src, open(blob, "wb") as dst, \
            gzip.GzipFile(filename="", mode="wb", fileobj=dst, mtime=EPOCH) as gz:
        shutil.copyfileobj(src, gz, 1 << 20)
    raw.unlink()
    return Written(blob, "sha256:" + _sha256(blob), blob.stat().st_size, "sha256:" + diff_id, entries, total)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

