"""Pod owners from the Kubernetes API: the Deployment, StatefulSet, DaemonSet, CronJob or Job a pod belongs to.

Optional (``--kube-api``). Without it, or for a pod the API has not shown yet, the workload is guessed
from the pod name (common/workload.py) and marked as a guess. Asked once per new pod, never per event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)


class OwnerSource(Protocol):
    def owner_of(self, pod_uid: str) -> tuple[str, str] | None: ...


def owner_from_pod(pod: dict[str, Any]) -> tuple[str, str] | None:
    """Pure: (kind, name) of the pod's controller; a ReplicaSet made by a Deployment names the latter. A pod
    the API shows without a controller is its own workload, and that is owner data too."""
    meta = pod.get("metadata", {})
    controllers = [r for r in meta.get("ownerReferences", []) if r.get("controller")]
    if not controllers:
        return ("Pod", meta["name"]) if meta.get("name") else None
    kind, name = controllers[0]["kind"], controllers[0]["name"]
    template_hash = meta.get("labels", {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


class KubeApiOwners:
    """Lists this node's pods from the API server (RBAC: pods get/list) when an unknown pod shows up; a Job's own
    controller, the CronJob that made it, is asked once per Job (RBAC: jobs get)."""

    def __init__(
        self, url: str, *, node: str, token_file: Path, ca_file: Path, refresh_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url.rstrip("/")
        self._node = node
        self._token_file = token_file
        self._client = httpx.Client(verify=str(ca_file) if ca_file.exists() else True, timeout=10)
        self._refresh_every = refresh_every_s
        self._clock = clock
        self._owners: dict[str, tuple[str, str] | None] = {}
        self._last = float("-inf")
        self._job_owners: dict[tuple[str, str], tuple[str, str]] = {}
        self.errors = 0

    def owner_of(self, pod_uid: str) -> tuple[str, str] | None:
        if pod_uid not in self._owners and self._clock() - self._last >= self._refresh_every:
            self._refresh()
        return self._owners.get(pod_uid)

    def _refresh(self) -> None:
        self._last = self._clock()
        try:
            pods = self._get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={self._node}"}).get("items", [])
            for pod in pods:
                owner = owner_from_pod(pod)
                if owner is not None and owner[0] == "Job":
                    owner = self._job_owner(pod["metadata"].get("namespace", ""), owner[1])
                self._owners[pod["metadata"]["uid"]] = owner
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            self.errors += 1
            log.warning("listing pods from %s failed: %s", self._url, exc)

    def _job_owner(self, namespace: str, job: str) -> tuple[str, str]:
        """("CronJob", name) for a Job a CronJob made, else ("Job", job). A Job that cannot be read stays a Job
        and is asked again next time."""
        key = (namespace, job)
        if key not in self._job_owners:
            try:
                found = self._get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job}", {})
            except (httpx.HTTPError, ValueError) as exc:
                self.errors += 1
                log.warning("reading Job %s/%s from %s failed: %s", namespace, job, self._url, exc)
                return "Job", job
            controllers = [r for r in found.get("metadata", {}).get("ownerReferences", []) if r.get("controller")]
            cron = [r["name"] for r in controllers if r.get("kind") == "CronJob"]
            self._job_owners[key] = ("CronJob", cron[0]) if cron else ("Job", job)
        return self._job_owners[key]

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        headers = {}
        if self._token_file.exists():  # re-read each time: projected tokens rotate
            headers["Authorization"] = f"Bearer {self._token_file.read_text().strip()}"
        r = self._client.get(f"{self._url}{path}", params=params, headers=headers)
        r.raise_for_status()
        return r.json()
