#!/usr/bin/env python3
"""deploy/'s kustomize files, rendered from the Helm chart with its default values: one home for the manifests.

Each template deploy/helm/snoop/templates/DIR/FILE becomes deploy/DIR/FILE. The database Secret is the one template
left out: Helm generates the password, kustomize users create the Secret themselves (the README's one command).
Usage: render-manifests.py [--check]   (--check: exit 1 with a diff when deploy/ is not what the chart renders)
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "deploy" / "helm" / "snoop"
NAMESPACE = "snoop-system"
NOT_RENDERED = {"collector/database-secret.yaml"}
HEADER = "# Rendered from deploy/helm/snoop by scripts/render-manifests.py: edit the chart, then run it.\n"
SOURCE = re.compile(r"^# Source: snoop/templates/(.+)$", re.MULTILINE)


def render(helm: str) -> dict[str, str]:
    """deploy/-relative path -> its content."""
    out = subprocess.run([helm, "template", "snoop", str(CHART), "--namespace", NAMESPACE], check=True,
                         capture_output=True, text=True).stdout
    files: dict[str, list[str]] = {}
    for document in out.split("\n---\n"):
        match = SOURCE.search(document)
        if match is None or match.group(1) in NOT_RENDERED:
            continue
        body = SOURCE.sub("", document, count=1).strip("\n")
        files.setdefault(match.group(1), []).append(body)
    return {path: HEADER + "\n---\n".join(bodies) + "\n" for path, bodies in files.items()}


def rendered_before(rendered: dict[str, str]) -> list[str]:
    """The manifests now under deploy/ in the directories the chart renders into."""
    parts = {Path(path).parent for path in rendered}
    return sorted(str(p.relative_to(REPO / "deploy")) for part in parts for p in (REPO / "deploy" / part).glob("*.yaml")
                  if p.name != "kustomization.yaml")


def main() -> int:
    helm = subprocess.run([str(REPO / "scripts" / "tool.sh"), "helm"], check=True, capture_output=True,
                          text=True).stdout.strip()
    rendered = render(helm)
    if "--check" not in sys.argv[1:]:
        for path in rendered_before(rendered):
            if path not in rendered:
                (REPO / "deploy" / path).unlink()
        for path, text in rendered.items():
            (REPO / "deploy" / path).write_text(text)
        return 0
    stale = [f"deploy/{path}: not rendered from the chart any more\n" for path in rendered_before(rendered)
             if path not in rendered]
    for path, text in sorted(rendered.items()):
        target = REPO / "deploy" / path
        current = target.read_text() if target.exists() else ""
        if current != text:
            stale.extend(difflib.unified_diff(current.splitlines(True), text.splitlines(True), f"deploy/{path}",
                                              f"helm template ({path})"))
    sys.stdout.writelines(stale)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
