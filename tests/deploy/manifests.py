"""Reading the deploy/ files as a cluster or Docker Compose would: documents, containers, env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/ (kustomizations are kustomize's config, not objects)."""
    return [(p, d) for p in sorted(DEPLOY.rglob("*.yaml")) if p.name != "kustomization.yaml"
            for d in documents(p)]


def find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in manifests():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no {kind} {name} under deploy/")


def container(kind: str, name: str) -> dict[str, Any]:
    (only,) = find(kind, name)["spec"]["template"]["spec"]["containers"]
    return only


def environment(c: dict[str, Any], *, node: str, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's env as the kubelet would set it; optional secrets that do not exist are left out."""
    env = {}
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "spec.nodeName", source
            env[var["name"]] = node
        else:
            ref = source["secretKeyRef"]
            key = (ref["name"], ref["key"])
            if key in secrets:
                env[var["name"]] = secrets[key]
            else:
                assert ref.get("optional"), f"secret {key} is required but the test has none"
    return env
