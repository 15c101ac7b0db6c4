"""The snoop command as users run it: flags, SNOOP_* variables, and errors that say what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snoop.agent.config import AgentConfig
from snoop.cli.main import build_parser
from snoop.cli.options import env_name, unknown_variables
from snoop.cli.settings import DemoSettings, PushSettings, RestClient
from snoop.collector.config import CollectorConfig
from snoop.common.settings import duration, flag_of, flagged_fields, listen
from tests.conftest import SNOOP, require


def test_durations_and_addresses() -> None:
    assert duration("500ms") == 0.5
    assert duration("30s") == duration("30") == 30
    assert duration("5m") == 300
    assert listen(":9090") == ("0.0.0.0", 9090)
    assert listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    with pytest.raises(ValueError, match="not a duration"):
        duration("soon")
    with pytest.raises(ValueError, match="not HOST:PORT"):
        listen("9090")


def test_every_flag_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOOP_METRICS_LISTEN", "127.0.0.1:9999")
    monkeypatch.setenv("SNOOP_INTERVAL", "2m")
    monkeypatch.setenv("SNOOP_EXCLUDE_MOUNTS", "false")
    monkeypatch.setenv("SNOOP_COLLECTOR", "collector:50051")
    args = build_parser().parse_args(["agent"])
    assert args.metrics_listen == ("127.0.0.1", 9999)
    assert args.interval_s == 120
    assert args.exclude_mounts is False
    assert args.collector == "collector:50051"
    # a flag on the command line still wins
    assert build_parser().parse_args(["agent", "--interval", "5s"]).interval_s == 5


def test_every_setting_of_every_command_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README promises: every declared setting, in every command that takes it."""
    for config, command in ((AgentConfig, ["agent"]), (CollectorConfig, ["collector"]), (PushSettings, ["push", "r"]),
                            (DemoSettings, ["demo"]), (RestClient, ["images"]), (RestClient, ["diff", "a", "b"])):
        for f in flagged_fields(config):
            flag = flag_of(f)
            assert flag is not None
            if flag.boolean or flag.parse not in (None, str):
                continue  # typed values: each parser has its own tests; here, that the variable is read
            monkeypatch.setenv(env_name(flag.name), "from-the-environment")
            assert getattr(build_parser().parse_args(command), f.name) == "from-the-environment", (command, flag.name)
            monkeypatch.delenv(env_name(flag.name))


def test_the_command_line_loads_no_collector_libraries() -> None:
    """Every command builds every parser; the agent must not carry the collector's SQLAlchemy and FastAPI in its
    memory for that (they cost it 21 MiB of RSS when a setting's check imported them)."""
    code = ("import sys; from snoop.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'psycopg', 'alembic') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_bad_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SNOOP_INTERVAL", "often")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["agent"])
    assert "SNOOP_INTERVAL='often'" in capsys.readouterr().err


def test_agent_needs_a_destination() -> None:
    r = subprocess.run([str(SNOOP), "agent"], capture_output=True, text=True)
    assert r.returncode == 2 and "--collector" in r.stderr


@pytest.mark.parametrize(("url", "said"), [("mysql://db/snoop", "SQLite or PostgreSQL, not mysql"),
                                           ("not a url", "not a database URL")])
def test_a_database_snoop_cannot_store_in_is_one_line(url: str, said: str) -> None:
    r = subprocess.run([str(SNOOP), "collector", "--db", url], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.startswith("snoop collector: --db: ") and said in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_agent_without_privileges_says_what_to_grant() -> None:
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None, "needs root to drop to nobody")
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SNOOP), "agent", "--output", "/tmp",
         "--metrics-listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 1
    assert "needs root" in r.stderr and "CAP_BPF + CAP_PERFMON" in r.stderr


def test_agent_prints_its_bpf_program_without_privileges() -> None:
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None, "needs root to drop to nobody")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SNOOP), "agent",
                        "--ebpf", "--ring-buffer-pages", "64"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    first, _, program = r.stdout.partition("\n")
    assert first.startswith("// cflags: -DRINGBUF_PAGES=64 -DSEEN_ENTRIES=262144")
    assert "TRACEPOINT_PROBE(syscalls, sys_enter_openat)" in program
    bad = subprocess.run([str(SNOOP), "agent", "--ebpf", "--ring-buffer-pages", "3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "power of two" in bad.stderr


def test_typos_are_errors_not_silence() -> None:
    """A misspelt SNOOP_* variable names the nearest one; flags are spelled in full (no abbreviations)."""
    env = {**os.environ, "SNOOP_TOKNE": "x"}
    typo = subprocess.run([str(SNOOP), "images"], capture_output=True, text=True, env=env)
    assert typo.returncode == 2 and "SNOOP_TOKNE is not a snoop setting (did you mean SNOOP_TOKEN?)" in typo.stderr
    short = subprocess.run([str(SNOOP), "images", "--serv", "http://127.0.0.1:1"], capture_output=True, text=True)
    assert short.returncode == 2 and "unrecognized arguments: --serv" in short.stderr


def test_a_services_variables_are_not_taken_for_typos() -> None:
    """A kubelet gives every container SNOOP_COLLECTOR_SERVICE_HOST, SNOOP_COLLECTOR_PORT_8080_TCP, … for the Service
    snoop-collector of its namespace: none is a setting, none is an error; a typo beside them still is."""
    links = {"SNOOP_COLLECTOR_SERVICE_HOST": "10.96.4.2", "SNOOP_COLLECTOR_SERVICE_PORT": "8080",
             "SNOOP_COLLECTOR_SERVICE_PORT_GRPC": "50051", "SNOOP_COLLECTOR_PORT": "tcp://10.96.4.2:8080",
             "SNOOP_COLLECTOR_PORT_8080_TCP": "tcp://10.96.4.2:8080", "SNOOP_POSTGRES_PORT_5432_TCP_ADDR": "10.96.4.3",
             "SNOOP_COLLECTOR_PORT_50051_TCP_PROTO": "tcp"}
    build_parser()  # every flag's variable known
    assert unknown_variables(links) == []
    assert unknown_variables({**links, "SNOOP_COLLECTR": "x"}) == [
        "SNOOP_COLLECTR is not a snoop setting (did you mean SNOOP_COLLECTOR?)"]


def test_tls_files_that_do_not_load_are_one_line_in_every_command(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", f"/CN={name}", "-keyout", str(tmp_path / f"{name}.key"),
                        "-out", str(tmp_path / f"{name}.crt")],
                       check=True, capture_output=True)
    (tmp_path / "garbage.crt").write_text("not a certificate\n")
    cases = {("a.crt", "b.key"): "the key does not match the certificate",
             ("garbage.crt", "a.key"): "not a PEM certificate or key"}
    for (cert, key), reason in cases.items():
        for command in (["collector"], ["agent", "--collector", "127.0.0.1:1"], ["push", "/nonexistent.json"]):
            done = subprocess.run([str(SNOOP), *command, "--tls-cert", str(tmp_path / cert), "--tls-key",
                                   str(tmp_path / key)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 2 and reason in done.stderr and str(tmp_path / cert) in done.stderr, done.stderr
            assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    for command in (["collector"], ["agent", "--collector", "127.0.0.1:1"], ["push", "/nonexistent.json"]):
        half = subprocess.run([str(SNOOP), *command, "--tls-cert", str(tmp_path / "a.crt")], capture_output=True,
                              text=True, timeout=60)  # one rule for every command: the certificate needs its key
        assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr, half.stderr
