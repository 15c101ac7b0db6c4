"""The wheel users get from ``pip install .``: one top-level package, complete, working from a fresh venv.

A module, template or migration left out of pyproject's package list passes every test that runs from the
checkout; only the installed wheel shows it, so this test builds one and runs it outside the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port, wait_http
from tests.test_push_and_query import report

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def pip(args: list[str], cwd: Path) -> None:
    done = subprocess.run([*args, "-q"], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(REPO)], cwd=out)
    (built,) = out.glob("snoop-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of its own (no system site-packages, no editable finder): the wheel and its declared deps only."""
    where = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(where)], check=True)
    pip([str(where / "bin/pip"), "install", str(wheel)], cwd=where)
    return where


def mapped_sources() -> set[str]:
    """The wheel path of every tracked file under pyproject's mapped folders, but the .proto sources."""
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    wanted = set()
    for name, folder in package_dir.items():
        tracked = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.split()
        wanted |= {"/".join([*name.split("."), *Path(p).relative_to(folder).parts])
                   for p in tracked if not p.endswith(".proto")}
    return wanted


def test_the_wheel_holds_snoop_alone_and_every_file_of_it(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"snoop", f"snoop-{VERSION}.dist-info"}
    missing = sorted(set(mapped_sources()) - set(names))
    assert not missing, f"in the repository but not in the wheel (pyproject's packages/package-data): {missing}"


def test_snoop_runs_from_a_fresh_venv(venv: Path, tmp_path: Path) -> None:
    snoop = venv / "bin/snoop"
    version = subprocess.run([str(snoop), "--version"], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert version.stdout.strip() == f"snoop {VERSION}"
    imports = ("import snoop.v1.snoop_pb2_grpc, snoop.agent.cri.cri_api_pb2_grpc, "
               "snoop.agent.containerd.containers_pb2_grpc, snoop.agent.tracer as t; assert 'TRACEPOINT' in "
               "t.program_text()")
    subprocess.run([str(venv / "bin/python"), "-I", "-c", imports], check=True, cwd=tmp_path)

    http, grpc_port = free_port(), free_port()
    log = open(tmp_path / "collector.log", "wb")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    collector = subprocess.Popen([str(snoop), "collector", "--db", f"sqlite:///{tmp_path}/snoop.db",
                                  "--http-listen", f"127.0.0.1:{http}", "--grpc-listen", f"127.0.0.1:{grpc_port}"],
                                 stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        wait_http(f"http://127.0.0.1:{http}/readyz", proc=collector)  # the shipped migrations ran
        pushed = tmp_path / "report.json"
        pushed.write_text(json.dumps(report("web-1", "sha256:wheel", ["/bin/app", "/etc/app.conf"])))
        push = subprocess.run([str(snoop), "push", "--collector", f"127.0.0.1:{grpc_port}", str(pushed)],
                              capture_output=True, text=True, cwd=tmp_path, env=env)
        assert push.returncode == 0, push.stderr
        files = httpx.get(f"http://127.0.0.1:{http}/api/v1/images/sha256:wheel/files").json()["files"]
        assert [f["path"] for f in files] == ["/bin/app", "/etc/app.conf"]
        page = httpx.get(f"http://127.0.0.1:{http}/images/sha256:wheel", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "/etc/app.conf" in page.text  # templates shipped
        assert httpx.get(f"http://127.0.0.1:{http}/static/snoop.css").status_code == 200
    finally:
        collector.terminate()
        collector.wait(20)
        log.close()
    assert collector.returncode == 0, (tmp_path / "collector.log").read_text()[-2000:]  # SIGTERM: a clean stop
