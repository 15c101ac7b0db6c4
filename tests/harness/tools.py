"""Real tools built from the Go module proxy at the versions pinned in tools/versions (scripts/tool.sh
builds each once per version and caches it): syft and Trivy, which write SBOMs without any database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> Path:
    out = subprocess.run([str(REPO / "scripts/tool.sh"), name], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def syft(source: str, fmt: str) -> dict[str, Any]:
    """``syft SOURCE -o FMT`` (cyclonedx-json, spdx-json): its document, as syft wrote it."""
    out = subprocess.run([str(tool("syft")), "scan", source, "-o", fmt, "-q"], check=True, capture_output=True,
                         env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": "/usr/bin:/bin", "HOME": "/root"})
    return json.loads(out.stdout)


def trivy(layout: Path, fmt: str, cache: Path) -> dict[str, Any]:
    """``trivy image --input LAYOUT --format FMT`` (an OCI layout directory; cyclonedx, spdx-json): an SBOM,
    no vulnerability database needed or fetched. Jars are skipped: Trivy reads them only with its Java
    database, which it fetches online."""
    out = subprocess.run([str(tool("trivy")), "image", "--input", str(layout), "--format", fmt, "--quiet",
                          "--cache-dir", str(cache), "--skip-db-update", "--skip-files", "**/*.jar",
                          "--offline-scan", "--disable-telemetry"],
                         check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", "HOME": "/root"})
    return json.loads(out.stdout)
