"""Dependencies run one way: the REST layer (``api/``) and the web view (``web/``) use what lies below them, and
nothing below imports them (storage, reports, verdicts, the gRPC ingest, sign-in, encoding)."""

from __future__ import annotations

import ast
from pathlib import Path

COLLECTOR = Path(__file__).resolve().parents[2] / "collector"
ABOVE = ("snoop.collector.api", "snoop.collector.web", "snoop.collector.app")


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_nothing_below_the_rest_layer_imports_it() -> None:
    below = [p for p in COLLECTOR.rglob("*.py")
             if p.relative_to(COLLECTOR).parts[0] not in ("api", "web", "app.py", "migrations")]
    assert len(below) > 20  # storage, reports, vulns, ingest, auth, encoding, …
    offenders = {str(p.relative_to(COLLECTOR)): sorted(m for m in imported(p) if m.startswith(ABOVE))
                 for p in below}
    assert {p: m for p, m in offenders.items() if m} == {}
