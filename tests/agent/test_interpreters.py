from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from snoop.agent.interpreters import interpreter_of


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "bin").mkdir()
    shutil.copy2("/bin/ls", tmp_path / "bin" / "dynamic")             # a dynamically linked ELF
    shutil.copy2("/bin/busybox", tmp_path / "bin" / "static")         # a static one
    (tmp_path / "bin" / "script").write_bytes(b"#!/usr/bin/env  python3 -u\nprint()\n")
    (tmp_path / "bin" / "relative").write_bytes(b"#!python3\n")
    (tmp_path / "bin" / "text").write_bytes(b"hello\n")
    (tmp_path / "bin" / "link").symlink_to("/bin/dynamic")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_elf_loader(root: int) -> None:
    loader = interpreter_of(root, b"/bin/dynamic")
    assert loader is not None and loader.startswith(b"/lib") and b"ld-linux" in loader


def test_script_interpreter(root: int) -> None:
    assert interpreter_of(root, b"/bin/script") == b"/usr/bin/env"


@pytest.mark.parametrize("path", [b"/bin/static", b"/bin/relative", b"/bin/text", b"/bin/missing",
                                  b"/bin/link"])  # links are resolved by the caller, never followed here
def test_nothing_to_load(root: int, path: bytes) -> None:
    assert interpreter_of(root, path) is None
