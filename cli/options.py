"""argparse with SNOOP_* environment defaults: ``--metrics-listen`` also reads SNOOP_METRICS_LISTEN."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """``500ms``, ``30s``, ``5m``, ``1h`` or plain seconds -> seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 30s, 500ms, 5m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (all interfaces)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def env_name(flag: str) -> str:
    return "SNOOP_" + flag.lstrip("-").upper().replace("-", "_")


def add(parser: argparse.ArgumentParser, flag: str, *, secret: bool = False, **kwargs: Any) -> None:
    """Adds ``flag`` whose default comes from its SNOOP_* variable when that is set. A ``secret``'s
    value (a token, a database URL with its password) is never printed by ``--help``."""
    env = env_name(flag)
    if env in os.environ:
        raw = os.environ[env]
        if kwargs.get("action") == argparse.BooleanOptionalAction:
            kwargs["default"] = raw.lower() in ("1", "true", "yes", "on")
        else:
            convert = kwargs.get("type", str)
            try:
                kwargs["default"] = convert(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{env}={raw!r}: {exc}")
        kwargs.pop("required", None)
    help_text = kwargs.get("help", "")
    if secret:
        shown = " (set)" if kwargs.get("default") else ""
    else:
        shown = " (default: %(default)s)" if "default" in kwargs else ""
    kwargs["help"] = f"{help_text} [env {env}]{shown}"
    parser.add_argument(flag, **kwargs)
