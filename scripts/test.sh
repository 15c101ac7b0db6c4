#!/usr/bin/env bash
# Runs the whole suite; extra arguments go to pytest. Under CI=true a BPF/containerd test that would skip
# fails instead (tests/conftest.py), and pytest's "no tests ran" (exit 5) is a failure too.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/check-proto.sh || exit 1
.venv/bin/ruff check agent collector cli common proto tests bench scripts || exit 1
.venv/bin/python scripts/typecheck.py || exit 1  # files and settings: pyproject.toml [tool.mypy]
.venv/bin/python -m pytest "$@"
rc=$?
[ $rc -eq 5 ] && { echo "no tests ran" >&2; exit 1; }
exit $rc
