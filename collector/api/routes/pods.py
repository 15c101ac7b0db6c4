"""/api/v1/pods/{namespace}/{pod}/report: the original snoop sidecar's report, for any pod."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException

from collector.api.deps import SessionDep
from collector.reports.pods import pod_report

router = APIRouter(prefix="/pods", tags=["pods"])


def seed_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/{namespace}/{pod}/report")
def report(namespace: str, pod: str, session: SessionDep) -> dict[str, Any]:
    data = pod_report(session, namespace, pod)
    if data is None:
        raise HTTPException(404, f"no pod {namespace}/{pod}")
    started, updated = data.pop("started_at_ns"), data.pop("last_updated_at_ns")
    return {"pod_name": data["pod_name"], "namespace": data["namespace"], "node": data["node"],
            "started_at": seed_time(started), "last_updated_at": seed_time(updated),
            "containers": data["containers"], "total_events": data["total_events"],
            "dropped_events": data["dropped_events"]}
