"""The installed snoop's version, as the package metadata says (pyproject.toml is its one source)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("snoop")
except PackageNotFoundError:  # run from a checkout that was never installed
    VERSION = "0+unknown"
