"""Settings declared once. Each field of a config dataclass carries its default, its flag, how text
becomes its value and its help; the command line builds its flags, their ``SNOOP_*`` variables and their
help from that, and turns parsed arguments back into the config. A default lives nowhere else."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Flag:
    name: str                                       # "--interval"
    help: str
    parse: Callable[[str], Any] | None = None       # text (flag or SNOOP_*) -> value; None: the text itself
    show: Callable[[Any], str] = str                # value -> text, for --help
    secret: bool = False                            # --help says "(set)", never the value
    boolean: bool = False                           # --x / --no-x


def setting(flag: str, help: str, default: Any = None, *, factory: Callable[[], Any] | None = None,  # noqa: A002
            **options: Any) -> Any:
    """A config field with its flag: ``interval_s: float = setting("--interval", "…", 30.0, parse=duration)``."""
    meta = {"flag": Flag(flag, help, **options)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def flag_of(f: Field[Any]) -> Flag | None:
    return f.metadata.get("flag")


def default_of(f: Field[Any]) -> Any:
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None if f.default is MISSING else f.default


def flagged_fields(config: type) -> list[Field[Any]]:
    return [f for f in fields(config) if flag_of(f) is not None]


def from_args(config: type, args: Any, **others: Any) -> Any:
    """The config from parsed arguments (``dest`` is each field's name)."""
    return config(**{f.name: getattr(args, f.name) for f in flagged_fields(config)}, **others)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def duration(text: str) -> float:
    """``500ms``, ``30s``, ``5m``, ``1h``, ``2d`` or plain seconds -> seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 30s, 500ms, 5m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def show_duration(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (all interfaces)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def optional_path(text: str) -> Path | None:
    """A path, or None for the empty string (``--spool-dir ''``)."""
    return Path(text) if text else None


def byte_prefixes(text: str) -> tuple[bytes, ...]:
    return tuple(os.fsencode(p) for p in text.split(",") if p)


def show_byte_prefixes(value: tuple[bytes, ...]) -> str:
    return ",".join(os.fsdecode(p) for p in value)


def show_listen(value: tuple[str, int]) -> str:
    return f"{value[0]}:{value[1]}"
