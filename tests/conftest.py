"""Shared fixtures. Real parts only: a throwaway containerd, real BPF, real sockets, real databases.

Where a part cannot run (not root, no containerd) a test skips on a laptop, but fails under CI=true:
CI runs as root on a kernel that supports all of it, so a skip there would hide a broken test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from tests.harness.containerd import Containerd
from tests.harness.debian import debian_rootfs as debian_rootfs_of
from tests.harness.postgres import Postgres, postgres_bin

REPO = Path(__file__).resolve().parent.parent
SNOOP = REPO / ".venv" / "bin" / "snoop"

T = TypeVar("T")


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and this test cannot run: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check: Callable[[], T | None], timeout_s: float = 20.0, every_s: float = 0.2,
               what: str | Callable[[], str] = "") -> T:
    """``check()``'s first truthy value, asked every ``every_s`` seconds; after ``timeout_s`` an AssertionError
    that says ``what`` (a callable: what it says then, e.g. the last answer seen)."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what() if callable(what) else what}")
        time.sleep(every_s)
    return value


def wait_http(url: str, timeout_s: float = 30.0, proc: subprocess.Popen | None = None,
              alive: Callable[[], None] = lambda: None) -> None:
    """Until ``url`` answers 200; ``proc`` exiting, or ``alive`` raising, ends the wait early."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        alive()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s}s")


@pytest.fixture(scope="session")
def bpf_ready() -> None:
    require(os.geteuid() == 0, "BPF needs root")
    require(Path(f"/lib/modules/{os.uname().release}/build/include").exists(), "kernel headers not linked")


@pytest.fixture(scope="session")
def containerd() -> Iterator[Containerd]:
    require(os.geteuid() == 0, "containerd needs root")
    for tool in ("containerd", "runc", "umoci", "ctr"):
        require(shutil.which(tool) is not None, f"{tool} not installed")
    root = Path(tempfile.mkdtemp(prefix="snoop-containerd-"))
    daemon = Containerd(root)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """A debootstrap Debian 12 with python3 (cached across runs on one machine)."""
    require(os.geteuid() == 0, "debootstrap needs root")
    require(shutil.which("debootstrap") is not None, "debootstrap not installed")
    return debian_rootfs_of()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session."""
    require(os.geteuid() == 0, "starting PostgreSQL as the postgres user needs root")
    require(postgres_bin() is not None, "PostgreSQL is not installed (Debian package postgresql)")
    root = Path(tempfile.mkdtemp(prefix="snoop-postgres-"))
    server = Postgres(root, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage and API test runs on both databases: a SQLite file and a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/snoop.db"
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.new_database()


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


class Process:
    """A snoop subcommand run as users run it; stopped with SIGTERM, output kept for failures."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None,
                 wrap: list[str] | None = None) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*(wrap or []), str(SNOOP), *args], stdout=self._out,
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout_s: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def collector_proc(tmp_path: Path) -> Iterator[tuple[Process, str, str]]:
    """A real ``snoop collector`` on a SQLite file: (process, REST base URL, gRPC address)."""
    http, grpc_port = free_port(), free_port()
    proc = Process(
        ["collector", "--db", f"sqlite:///{tmp_path}/snoop.db", "--http-listen", f"127.0.0.1:{http}",
         "--grpc-listen", f"127.0.0.1:{grpc_port}"],
        tmp_path / "collector.log",
    )
    base = f"http://127.0.0.1:{http}"
    try:
        wait_http(f"{base}/readyz", proc=proc.proc)
    except Exception:
        proc.stop()
        raise AssertionError(proc.output()) from None
    yield proc, base, f"127.0.0.1:{grpc_port}"
    proc.stop()
