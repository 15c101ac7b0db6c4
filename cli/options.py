"""argparse with SNOOP_* environment defaults: ``--metrics-listen`` also reads SNOOP_METRICS_LISTEN."""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Callable
from typing import Any

from snoop.common import settings


def arg_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser whose ValueError argparse shows as it is (it would print only "invalid value")."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = parse.__name__
    return convert


# Read by scripts and tests, not by a command: scripts/run.sh, tests/harness, scripts/tool.sh.
NOT_FLAGS = frozenset({"SNOOP_DATA", "SNOOP_TEST_CACHE", "SNOOP_DEBIAN_MIRROR", "SNOOP_TOOLS", "SNOOP_SCREENSHOTS"})
KNOWN: set[str] = set()  # every flag's variable, as the parsers are built


def env_name(flag: str) -> str:
    return "SNOOP_" + flag.lstrip("-").upper().replace("-", "_")


# What a kubelet puts in every container for each Service of its namespace (enableServiceLinks): the Service
# snoop-collector becomes SNOOP_COLLECTOR_SERVICE_HOST, SNOOP_COLLECTOR_PORT_8080_TCP_ADDR, …
SERVICE_LINK = re.compile(r"SNOOP_\w+?_(SERVICE_HOST|SERVICE_PORT(_\w+)?"
                          r"|PORT(_\d+_(TCP|UDP|SCTP)(_ADDR|_PORT|_PROTO)?)?)")


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """``SNOOP_*`` variables no flag reads, each with the nearest known one: a typo must not pass silently
    (an operator who set SNOOP_TOKNE believes a token is set). A Service's variables are not settings."""
    out = []
    for name in sorted(environ):
        if name.startswith("SNOOP_") and name not in KNOWN | NOT_FLAGS and not SERVICE_LINK.fullmatch(name):
            near = difflib.get_close_matches(name, sorted(KNOWN), n=1)
            out.append(f"{name} is not a snoop setting" + (f" (did you mean {near[0]}?)" if near else ""))
    return out


def add(parser: argparse.ArgumentParser, flag: str, *, secret: bool = False,
        show: Callable[[Any], str] | None = None, **kwargs: Any) -> None:
    """Adds ``flag`` whose default comes from its SNOOP_* variable when that is set. A ``secret``'s
    value (a token, a database URL with its password) is never printed by ``--help``; ``show`` writes
    the default as a user would type it."""
    env = env_name(flag)
    KNOWN.add(env)
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
    elif kwargs.get("default") is None:
        shown = ""
    elif show is not None:
        shown = f" (default: {show(kwargs['default'])})".replace("%", "%%")
    else:
        shown = " (default: %(default)s)"
    kwargs["help"] = f"{help_text} [env {env}]{shown}"
    parser.add_argument(flag, **kwargs)


def add_config_flags(parser: argparse.ArgumentParser, config: type) -> None:
    """A flag for every field of ``config`` that declares one (common/settings.py); ``dest`` is the field."""
    for f in settings.flagged_fields(config):
        flag = settings.flag_of(f)
        assert flag is not None
        default = settings.default_of(f)
        if flag.boolean:
            add(parser, flag.name, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                help=flag.help)
            continue
        extra = {"type": arg_type(flag.parse)} if flag.parse else {}
        add(parser, flag.name, dest=f.name, default=default, help=flag.help, secret=flag.secret,
            show=flag.show, metavar=flag.name.lstrip("-").upper().replace("-", "_"), **extra)
