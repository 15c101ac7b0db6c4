"""A FAKE Kubernetes API server, for unit tests of the agent's owner lookups (tests/cluster runs the real one). It
answers only what the agent asks — ``GET /api/v1/pods?fieldSelector=spec.nodeName=…`` and
``GET /apis/batch/v1/namespaces/NS/jobs/NAME`` — from pods and Jobs the test puts in, and records requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeKubeApi:
    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}  # /apis/batch/v1/namespaces/NS/jobs/NAME -> the Job
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append((url.path, parse_qs(url.query), self.headers.get("Authorization")))
                if url.path == "/api/v1/pods":
                    found: dict[str, Any] | None = {"kind": "PodList", "items": fake.pods}
                else:
                    found = fake.jobs.get(url.path)
                if found is None:
                    self.send_error(404)
                    return
                body = json.dumps(found).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def add_pod(self, uid: str, name: str, owner_kind: str, owner_name: str, template_hash: str = "",
                namespace: str = "default") -> None:
        labels = {"pod-template-hash": template_hash} if template_hash else {}
        self.pods.append({"metadata": {"uid": uid, "name": name, "namespace": namespace, "labels": labels,
                                       "ownerReferences": [{"kind": owner_kind, "name": owner_name,
                                                            "controller": True}]}})

    def add_job(self, namespace: str, name: str, cronjob: str | None) -> None:
        refs = [{"kind": "CronJob", "name": cronjob, "controller": True}] if cronjob else []
        self.jobs[f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"] = {
            "kind": "Job", "metadata": {"name": name, "namespace": namespace, "ownerReferences": refs}}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
