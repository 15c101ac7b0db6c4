"""Runs mypy over the package as it is installed (snoop.agent, snoop.collector, …).

mypy does not follow setuptools' editable-install finder, so it checks a tree of links laid out by
pyproject.toml's own [tool.setuptools.package-dir]: one mapping, read here, never restated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "typecheck"


def link_tree() -> None:
    """Links each mapped package folder at its dotted name's place under TREE."""
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(TREE, ignore_errors=True)
    for name, folder in sorted(package_dir.items()):  # parents first: "snoop" before "snoop.agent"
        place = TREE.joinpath(*name.split("."))
        place.mkdir(parents=True, exist_ok=True)
        for entry in (REPO / folder).iterdir():
            if entry.name != "__pycache__" and not (place / entry.name).exists():
                (place / entry.name).symlink_to(os.path.relpath(entry, place))


if __name__ == "__main__":
    link_tree()
    sys.exit(subprocess.call([str(REPO / ".venv/bin/mypy"), *sys.argv[1:]], cwd=REPO))
