"""deploy/ parses, validates against the Kubernetes and Compose schemas offline, and hangs together."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO, require
from tests.deploy.manifests import DEPLOY, container, documents, find, manifests

KUBERNETES = "1.30.0"


@pytest.mark.parametrize(("path", "doc"), manifests(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_manifest_is_valid_kubernetes(path: Path, doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "snoop"
    if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
        assert doc["metadata"]["namespace"] == "snoop-system"


def test_kustomizations_list_exactly_their_files() -> None:
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        (config,) = documents(kustomization)
        listed = {kustomization.parent / r for r in config["resources"]}
        assert all(p.exists() for p in listed), kustomization
        present = {p for p in kustomization.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
        present |= {d for d in kustomization.parent.iterdir() if (d / "kustomization.yaml").exists()}
        assert listed == present, kustomization


def test_agent_reaches_the_collector_service() -> None:
    agent = container("DaemonSet", "snoop-agent")
    env = {e["name"]: e.get("value") for e in agent["env"]}
    host, port = env["SNOOP_COLLECTOR"].rsplit(":", 1)
    service = find("Service", host)
    assert int(port) in {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}
    collector = container("Deployment", "snoop-collector")
    assert service["spec"]["selector"].items() <= find("Deployment", "snoop-collector")["spec"]["template"][
        "metadata"]["labels"].items()
    ports = {p["name"]: p["containerPort"] for p in collector["ports"]}
    assert ports == {"http": 8080, "grpc": 50051}


def test_agent_has_what_it_needs_and_no_more() -> None:
    spec = find("DaemonSet", "snoop-agent")["spec"]["template"]["spec"]
    agent = container("DaemonSet", "snoop-agent")
    assert spec["hostPID"] is True
    assert spec["tolerations"] == [{"operator": "Exists"}]
    role = find("ClusterRole", "snoop-agent")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                             {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]}]
    binding = find("ClusterRoleBinding", "snoop-agent")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": spec["serviceAccountName"],
                                    "namespace": "snoop-system"}]
    security = agent["securityContext"]
    assert security["privileged"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(security["capabilities"]["add"]) == {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE",
                                                    "DAC_READ_SEARCH"}
    mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}
    for read_only in ("/host/sys/fs/cgroup", "/sys/kernel/tracing", "/host/lib/modules", "/host/usr/src"):
        assert mounts[read_only]["readOnly"] is True
    for probe in ("livenessProbe", "readinessProbe"):
        assert agent[probe]["httpGet"]["port"] == "metrics"
    assert {p["name"]: p["containerPort"] for p in agent["ports"]} == {"metrics": 9090}
    assert "limits" in agent["resources"] and "requests" in agent["resources"]


def test_collector_is_replicated_and_guarded() -> None:
    deployment = find("Deployment", "snoop-collector")
    assert deployment["spec"]["replicas"] >= 2
    assert find("PodDisruptionBudget", "snoop-collector")["spec"]["minAvailable"] == 1
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in container("Deployment", "snoop-collector")["env"]}
    assert env["DATABASE_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "snoop-database", "key": "password"}}
    assert env["SNOOP_DB"]["value"] == "postgresql+psycopg://snoop:$(DATABASE_PASSWORD)@snoop-postgres:5432/snoop"


def test_compose_file_matches_the_compose_spec() -> None:
    import check_jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_path.read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    jsonschema.validate(compose, schema)
    assert set(compose["services"]) == {"postgres", "collector", "agent"}
    agent = compose["services"]["agent"]
    assert agent["pid"] == "host" and agent["privileged"] is True


def dockerfile_packages(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    packages: list[str] = []
    for match in re.finditer(r"apt-get install ([^&]*)", text):
        packages += [w for w in match.group(1).split() if not w.startswith("-")]
    return packages


@pytest.mark.parametrize("dockerfile", sorted(DEPLOY.rglob("Dockerfile")), ids=lambda p: p.parent.name)
def test_dockerfile_packages_resolve(dockerfile: Path) -> None:
    require(shutil.which("apt-cache") is not None, "apt-cache is Debian's")
    packages = dockerfile_packages(dockerfile)
    assert "python3" in packages
    for package in packages:
        policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
        assert "Candidate:" in policy and "Candidate: (none)" not in policy, f"{dockerfile}: {package}"
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"{dockerfile}: COPY {source}"
    # pip install . resolves the project's dependencies: the same list this venv was built from
    for requirement in importlib.metadata.requires("snoop") or []:
        req = Requirement(requirement)
        if req.marker is None:
            assert importlib.metadata.version(req.name) in req.specifier, requirement


@pytest.mark.parametrize("service", ["collector", "agent"])
def test_compose_commands_parse(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from snoop.cli.main import build_parser

    spec = yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"][service]
    for name, value in spec["environment"].items():
        monkeypatch.setenv(name, value.replace("${HOSTNAME:-compose-host}", "compose-host"))
    args = build_parser().parse_args(spec["command"])
    assert args.command == service
    if service == "agent":
        assert args.collector == "collector:50051" and args.metrics_listen == ("0.0.0.0", 9090)
    else:
        assert args.db_url.startswith("postgresql+psycopg://") and args.grpc_listen == ("0.0.0.0", 50051)
