"""The Helm chart is the one home of the manifests: deploy/'s kustomize files are its rendering with default values,
and its values switch what they say they switch."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.harness.tools import tool

CHART = REPO / "deploy/helm/snoop"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, check=check)


def rendered(*values: str) -> list[dict[str, Any]]:
    out = helm("template", "snoop", str(CHART), "--namespace", "snoop-system", *values).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_deploy_is_the_charts_rendering_with_default_values() -> None:
    done = subprocess.run([str(REPO / "scripts/render-manifests.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, f"deploy/ differs from the chart (run make manifests):\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("values", [[], ["--set", "database.type=sqlite"],
                                    ["--set", "database.type=external", "--set", "database.external.url=x"]])
def test_helm_lint(values: list[str]) -> None:
    done = helm("lint", str(CHART), "--strict", *values, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_password_is_committed_and_helm_generates_one() -> None:
    assert "change-me" not in "".join(p.read_text() for p in (REPO / "deploy").rglob("*.yaml"))
    secret = one(rendered(), "Secret", "snoop-database")
    assert len(secret["data"]["password"]) >= 40
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert secret["data"]["password"] != one(rendered(), "Secret", "snoop-database")["data"]["password"]


def test_sqlite_runs_one_collector_on_a_claim_and_no_postgres() -> None:
    documents = rendered("--set", "database.type=sqlite", "--set", "database.sqlite.storageClass=fast")
    collector = one(documents, "Deployment", "snoop-collector")
    assert collector["spec"]["replicas"] == 1 and collector["spec"]["strategy"] == {"type": "Recreate"}
    assert env(collector)["SNOOP_DB"] == "sqlite:////var/lib/snoop/snoop.db"
    assert one(documents, "PersistentVolumeClaim", "snoop-collector-data")["spec"]["storageClassName"] == "fast"
    assert not [d for d in documents if d["kind"] in ("StatefulSet", "PodDisruptionBudget", "Secret")]


def test_an_external_database_needs_its_url() -> None:
    documents = rendered("--set", "database.type=external", "--set", "database.external.url=postgresql+psycopg://u:p@db/s")
    assert one(documents, "Secret", "snoop-database")["stringData"]["url"] == "postgresql+psycopg://u:p@db/s"
    assert env(one(documents, "Deployment", "snoop-collector"))["SNOOP_DB"] == \
        {"secretKeyRef": {"name": "snoop-database", "key": "url"}}
    refused = helm("template", "snoop", str(CHART), "--set", "database.type=external", check=False)
    assert refused.returncode != 0 and "database.external.url" in refused.stderr


def test_values_reach_the_pods() -> None:
    documents = rendered("--set", "image.registry=registry.example/team", "--set", "image.tag=1.2.3",
                         "--set", "auth.token=s3cret", "--set", "tls.existingSecret=snoop-tls",
                         "--set", "collector.retainImages=90d", "--set", "agent.nodeSelector.role=worker",
                         "--set", "agent.resources.limits.memory=256Mi")
    agent = one(documents, "DaemonSet", "snoop-agent")["spec"]["template"]["spec"]
    collector = one(documents, "Deployment", "snoop-collector")
    assert agent["containers"][0]["image"] == "registry.example/team/snoop-agent:1.2.3"
    assert agent["nodeSelector"] == {"role": "worker"}
    assert agent["containers"][0]["resources"]["limits"]["memory"] == "256Mi"
    assert env(collector)["SNOOP_RETAIN_IMAGES"] == "90d"
    assert env(collector)["SNOOP_TLS_CERT"] == "/etc/snoop/tls/tls.crt"
    assert one(documents, "Secret", "snoop-token")["stringData"]["token"] == "s3cret"
    assert {"name": "tls", "secret": {"secretName": "snoop-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} \
        in agent["volumes"]
