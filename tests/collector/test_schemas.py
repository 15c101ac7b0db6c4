"""The OpenAPI page documents every JSON answer, and real answers match what it documents."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import BaseModel

from snoop.collector.api import schemas
from tests.collector.test_vulnerabilities import DIGEST, VULNS, scanned_image
from tests.harness.scans import FORMATS

ANSWERS: list[tuple[str, dict, type[BaseModel]]] = [
    ("/api/v1/images", {}, schemas.ImageList),
    ("/api/v1/images/app:1/files", {}, schemas.ImageFiles),
    ("/api/v1/images/app:1/summary", {}, schemas.Summary),
    ("/api/v1/images/app:1/packages", {}, schemas.Packages),
    ("/api/v1/images/app:1/vulnerabilities", {}, schemas.Vulnerabilities),
    ("/api/v1/diff", {"base": "app:1", "head": "app:1"}, schemas.Diff),
    ("/api/v1/workloads", {}, schemas.WorkloadList),
    ("/api/v1/workloads/shop/web/files", {}, schemas.WorkloadFiles),
    ("/api/v1/workloads/shop/web/hardening", {}, schemas.Hardening),
    ("/api/v1/pods/shop/web-6d4cf56db6-x7k9m/report", {}, schemas.PodReport),
]


def test_real_answers_match_their_documented_models(client: TestClient, tmp_path: Path) -> None:
    scanned_image(client, tmp_path / "img")
    client.post("/api/v1/images/app:1/vulnerabilities", content=json.dumps(FORMATS["trivy"](DIGEST, "app:1", VULNS)))
    for path, params, model in ANSWERS:
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        model.model_validate(r.json(), strict=False)


def test_every_route_documents_its_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation["responses"]["200"].get("content", {})
            assert content, f"{method.upper()} {path} documents no answer"
            schema = next(iter(content.values())).get("schema")
            if path.endswith("/sbom"):
                continue  # a CycloneDX document: its own standard
            assert schema and ("$ref" in schema or "anyOf" in schema), f"{method.upper()} {path}: {schema}"
