"""Image references the way users type them, read with the Docker engine's rules: ``busybox`` is
``docker.io/library/busybox:latest``, a name without a tag means ``:latest``, a registry is a first
component holding ``.`` or ``:`` or being ``localhost``."""

from __future__ import annotations

import re

DEFAULT_REGISTRY = "docker.io"
_HEX_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{12,64})$")


def normalise(reference: str) -> str:
    name, at, digest = reference.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        first, rest = DEFAULT_REGISTRY, name
    if first == DEFAULT_REGISTRY and "/" not in rest:
        rest = f"library/{rest}"
    if not at and ":" not in rest.rsplit("/", 1)[-1]:
        rest += ":latest"
    return f"{first}/{rest}{at}{digest}"


def digest_prefix(key: str) -> str | None:
    """``sha256:<hex>`` for a key of 12 to 64 hex digits (with or without ``sha256:``), else None."""
    match = _HEX_PREFIX.match(key)
    return f"sha256:{match.group(1)}" if match else None
