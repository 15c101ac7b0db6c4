"""The README's command-line block is a promise: every command and flag it names exists, and every default it
shows is the one the command has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from snoop.cli.main import build_parser
from snoop.common.settings import duration

README = Path(__file__).resolve().parent.parent / "README.md"


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def block() -> list[tuple[list[str], str]]:
    """(the commands a README line group names, its text) for each ``snoop …`` entry of the block."""
    text = README.read_text().split("## The command line", 1)[1].split("```", 2)[1]
    entries: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("snoop "):
            entries.append([line])
        elif entries and line.strip():
            entries[-1].append(line)
    out = []
    known = set(commands())
    for lines in entries:
        body = " ".join(lines).split("#")[0]
        names = [w for w in re.findall(r"(?:^snoop |\| )([a-z]+)", body) if w in known]
        out.append((names, body))
    return out


def test_every_command_and_flag_in_the_readme_exists() -> None:
    parsers = commands()
    entries = block()
    assert {name for names, _ in entries for name in names} == set(parsers)
    for names, body in entries:
        options = {o for n in names for o in parsers[n]._option_string_actions} | {"--version", "--log-level"}
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", body):
            assert flag in options or flag == "--tls-", f"{' '.join(names)}: the README names {flag}, which it lacks"


def test_defaults_the_readme_shows_are_the_commands_defaults() -> None:
    """``[--flag VALUE]`` where VALUE is written as a value (a duration, a path, a URL), not a placeholder."""
    parsers = commands()
    for names, body in block():
        for flag, value in re.findall(r"\[(--[a-z-]+) ([^\]|\s]+)\]", body):
            if value.isupper() or value.endswith(("…", "/…")) or ":" in value and "//" not in value:
                continue  # a placeholder (N, HOST:PORT, unix:///…)
            for name in names:
                action = parsers[name]._option_string_actions.get(flag)
                if action is None or action.default is None:
                    continue
                if isinstance(action.default, float):  # a duration, written as people write it (5m, 30d)
                    assert duration(value) == action.default, f"{name} {flag}: README {value}, {action.default}s"
                    continue
                shown = (action.help or "") % {"default": action.default}  # what --help says
                assert f"(default: {value})" in shown, f"{name} {flag}: README {value}, --help: {shown}"
