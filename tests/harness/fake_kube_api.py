"""A FAKE Kubernetes API server: no API server can run here. It answers only what the agent asks —
``GET /api/v1/pods?fieldSelector=spec.nodeName=…`` — from pods the test puts in, and records requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeKubeApi:
    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append((url.path, parse_qs(url.query), self.headers.get("Authorization")))
                if url.path != "/api/v1/pods":
                    self.send_error(404)
                    return
                body = json.dumps({"kind": "PodList", "items": fake.pods}).encode()
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

    def add_pod(self, uid: str, name: str, owner_kind: str, owner_name: str, template_hash: str = "") -> None:
        labels = {"pod-template-hash": template_hash} if template_hash else {}
        self.pods.append({"metadata": {"uid": uid, "name": name, "labels": labels, "ownerReferences": [
            {"kind": owner_kind, "name": owner_name, "controller": True}]}})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
