"""``snoop push`` and the query commands against a real collector process, over real sockets."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from tests.conftest import SNOOP, Process


def snoop(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SNOOP), *args], capture_output=True, timeout=60)


def report(pod: str, digest: str | None, files: list[str], image: str = "app:1") -> dict:
    container = {"name": "app", "cgroup_id": 42, "cgroup_path": "/kubepods/x", "files": files,
                 "total_events": 100, "unique_files": len(files)}
    if digest:
        container.update(image=image, image_digest=digest, container_id=f"cid-{pod}")
    return {"pod_name": pod, "namespace": "shop", "node": "node-1", "started_at": "2026-01-15T10:30:00Z",
            "last_updated_at": "2026-01-15T10:31:00Z", "containers": [container], "total_events": 100,
            "dropped_events": 0}


def test_push_merges_reports_and_names_malformed_files(collector_proc: tuple[Process, str, str],
                                                       tmp_path: Path) -> None:
    _, base, grpc_addr = collector_proc
    good = tmp_path / "good.json"
    good.write_text(json.dumps(report("web-1", "sha256:v1", ["/etc/nginx.conf", "/bin/nginx", "/caf\udce9"])))
    sidecar = tmp_path / "sidecar.json"  # the original sidecar knows no image: --image-digest supplies it
    sidecar.write_text(json.dumps(report("web-2", None, ["/etc/nginx.conf", "/usr/share/index.html"])))
    bad = tmp_path / "bad.json"
    broken = report("web-3", "sha256:v1", ["/etc/secret"])
    broken["containers"][0]["files"].append(7)
    bad.write_text(json.dumps(broken))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")

    r = snoop("push", "--collector", grpc_addr, "--image-digest", "sha256:v1", str(good), str(sidecar),
              str(bad), str(garbage))
    assert r.returncode == 1
    err = r.stderr.decode()
    assert f"{bad}: containers[0].files[1]: expected str, got int" in err
    assert f"{garbage}: cannot read JSON" in err

    files = httpx.get(f"{base}/api/v1/images/sha256:v1/files").json()["files"]
    by_path = {f["path"]: f["containers"] for f in files}
    assert by_path == {"/bin/nginx": 1, "/caf\udce9": 1, "/etc/nginx.conf": 2, "/usr/share/index.html": 1}
    assert "/etc/secret" not in by_path  # nothing of the malformed report

    again = snoop("push", "--collector", grpc_addr, str(good))
    assert again.returncode == 0 and b"0 new files" in again.stdout  # a resend changes nothing

    pod = httpx.get(f"{base}/api/v1/pods/shop/web-1/report").json()
    assert pod["containers"][0]["files"] == sorted(["/etc/nginx.conf", "/bin/nginx", "/caf\udce9"])
    assert pod["started_at"] == "2026-01-15T10:30:00Z"


def test_push_to_an_absent_collector_fails_clearly(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(report("web-1", "sha256:v1", ["/etc/a"])))
    r = snoop("push", "--collector", "127.0.0.1:1", str(good))
    assert r.returncode == 1 and b"UNAVAILABLE" in r.stderr


def test_query_commands(collector_proc: tuple[Process, str, str], tmp_path: Path) -> None:
    _, base, grpc_addr = collector_proc
    for name, digest, files in (("v1", "sha256:v1", ["/bin/app", "/lib/old.so"]),
                                ("v2", "sha256:v2", ["/bin/app", "/lib/new.so"])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(report(f"web-{name}", digest, files, image=f"app:{name}")))
        assert snoop("push", "--collector", grpc_addr, str(path)).returncode == 0

    listing = snoop("images", "--server", base).stdout.decode()
    assert listing.splitlines()[0].split() == ["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "USED", "SIZE", "LAST",
                                              "SEEN"]
    assert "sha256:v1" in listing and "app:v2" in listing

    keep = snoop("files", "app:v1", "--server", base, "--format", "text")
    assert keep.stdout == b"/bin/app\n/lib/old.so\n"
    as_json = json.loads(snoop("files", "sha256:v2", "--server", base, "--format", "json").stdout)
    assert as_json["total"] == 2

    d = snoop("diff", "app:v1", "app:v2", "--server", base).stdout.decode().splitlines()
    assert "+ /lib/new.so" in d and "- /lib/old.so" in d and d[-1] == "1 added, 1 removed, 1 common"

    # the CI gate: head uses a file base does not (a base-slimmed image would break); not the other way
    gate = snoop("diff", "app:v1", "app:v2", "--server", base, "--format", "text", "--exit-code", "3")
    assert gate.returncode == 3 and gate.stdout.splitlines() == [b"+ /lib/new.so", b"- /lib/old.so"]
    assert snoop("diff", "app:v2", "app:v2", "--server", base, "--exit-code", "3").returncode == 0

    missing = snoop("files", "app:v9", "--server", base, "--log-level", "debug")  # flags after the command too
    assert missing.returncode == 1 and b"404" in missing.stderr and b"app:v9" in missing.stderr
    assert b"did you mean app:v1" in missing.stderr or b"did you mean app:v2" in missing.stderr
    assert b"HTTP Request" not in snoop("images", "--server", base).stderr  # no library noise
    assert snoop("--version").stdout.decode().startswith("snoop 0.1")
    assert 'snoop_build_info{version="0.1' in httpx.get(f"{base}/metrics").text
    collector_log = collector_proc[0].output().splitlines()
    assert collector_log and all(json.loads(line)["level"] for line in collector_log)  # uvicorn, Alembic too
    down = snoop("images", "--server", "http://127.0.0.1:1")
    assert down.returncode == 1 and b"cannot reach the collector" in down.stderr


def test_push_names_every_bad_report_and_sends_the_good_ones(collector_proc: tuple[Process, str, str],
                                                            tmp_path: Path) -> None:
    """Deeply nested, not UTF-8, out of range, too big: each named with why, no traceback; the good report
    beside them, with more files than one batch holds, arrives whole."""
    _, base, grpc_addr = collector_proc
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(json.dumps(report("web-4", "sha256:v9", ["/x"])).encode().replace(b"/x", b"/caf\xe9"))
    huge_id = tmp_path / "range.json"
    doc = report("web-5", "sha256:v9", ["/y"])
    doc["containers"][0]["cgroup_id"] = 2**70
    huge_id.write_text(json.dumps(doc))
    too_big = tmp_path / "big.json"
    with open(too_big, "wb") as f:
        f.truncate(65 * 2**20)
    many = tmp_path / "many.json"
    many.write_text(json.dumps(report("web-6", "sha256:v9", [f"/many/{i}" for i in range(25_000)])))

    r = snoop("push", "--collector", grpc_addr, str(nested), str(latin1), str(huge_id), str(too_big), str(many))
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err, err
    assert f"{nested}: cannot read JSON" in err
    assert f"{latin1}: cannot read JSON" in err
    assert f"{huge_id}: containers[0].cgroup_id: {2**70} is out of range" in err
    assert f"{too_big}: 65 MiB is more than a report" in err
    assert f"{many}: 25000 new files".encode() in r.stdout
    assert httpx.get(f"{base}/api/v1/images/sha256:v9/files", params={"limit": 1}).json()["total"] == 25_000


def test_cli_speaks_like_kubectl(collector_proc: tuple[Process, str, str], tmp_path: Path) -> None:
    """-o json|yaml|csv|table|text, --since 1h, -n/--namespace, --limit, and snoop workloads."""
    _, base, grpc_addr = collector_proc
    path = tmp_path / "r.json"
    doc = report("web-6d4cf56db6-x7k9m", "sha256:k1", ["/bin/app", "/etc/app.conf", "/lib/x.so"])
    doc["started_at"] = doc["last_updated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(doc))
    assert snoop("push", "--collector", grpc_addr, str(path)).returncode == 0

    as_yaml = yaml.safe_load(snoop("files", "app:1", "-o", "yaml", "--server", base).stdout)
    assert as_yaml["total"] == 3 and {f["path"] for f in as_yaml["files"]} == {"/bin/app", "/etc/app.conf", "/lib/x.so"}
    as_csv = snoop("files", "app:1", "-o", "csv", "--server", base).stdout.decode().splitlines()
    assert as_csv[0] == "path,containers,kinds,first_seen,last_seen,type,size,package" and len(as_csv) == 4
    page = snoop("files", "app:1", "--limit", "2", "--format", "text", "--server", base).stdout
    assert page == b"/bin/app\n/etc/app.conf\n"
    assert snoop("images", "--since", "1h", "-o", "text", "--server", base).stdout == b"sha256:k1\n"
    assert snoop("images", "--since", "2026-01-01T00:00:00Z", "-n", "elsewhere", "-o", "text", "--server",
                 base).stdout == b""
    workloads = json.loads(snoop("workloads", "-n", "shop", "-o", "json", "--server", base).stdout)
    assert [(w["name"], w["kind"]) for w in workloads["workloads"]] == [("web", "Deployment?")]
    assert b"Deployment?" in snoop("workloads", "--server", base).stdout
    patch = yaml.safe_load(snoop("harden", "shop/web", "--server", base).stdout)  # a pushed report writes nothing
    assert (patch["kind"], patch["metadata"]) == ("Deployment", {"name": "web", "namespace": "shop"})
    assert patch["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "securityContext": {"readOnlyRootFilesystem": True}}]
    assert snoop("harden", "shop/web", "-o", "table", "--server", base).stdout.startswith(b"CONTAINER")
    unnamed = snoop("harden", "web", "--server", base)
    assert unnamed.returncode == 1 and b"NAMESPACE/NAME" in unnamed.stderr
    bad = snoop("images", "--since", "yesterday", "--server", base)
    assert bad.returncode == 1 and b"1h, 2d, 2026-01-31T00:00" in bad.stderr  # said before asking


def test_output_for_scripts_is_raw_and_newline_ended(collector_proc: tuple[Process, str, str],
                                                     tmp_path: Path) -> None:
    """-o csv: snake_case headers, bytes and counts as numbers, ISO times; every answer ends with a newline;
    a bad --since names what is taken."""
    _, base, grpc_addr = collector_proc
    push = tmp_path / "r.json"
    push.write_text(json.dumps(report("web-1", "sha256:" + "e" * 64, ["/bin/sh", "/etc/a"])))
    assert snoop("push", "--collector", grpc_addr, str(push)).returncode == 0
    images = snoop("images", "-o", "csv", "--server", base).stdout.decode()
    header, row = images.splitlines()[:2]
    assert header == "digest,references,containers,files,used_bytes,bytes,last_seen"
    assert row.split(",")[2:5] == ["1", "2", ""] and row.split(",")[6].startswith("2026-01-15T10:31")
    summary = snoop("summary", "app:1", "-o", "csv", "--server", base).stdout.decode()
    assert summary.startswith("field,value\n") and "coverage.instances,1\n" in summary
    for args in (["images", "-o", "json"], ["summary", "app:1", "-o", "json"], ["files", "app:1", "-o", "csv"]):
        out = snoop(*args, "--server", base)
        assert out.stdout.endswith(b"\n"), args
    bad = snoop("images", "--since", "yesterday", "--server", base)
    assert bad.returncode == 1 and b"1h, 2d, 2026-01-31T00:00" in bad.stderr
