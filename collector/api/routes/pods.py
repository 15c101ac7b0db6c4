"""/api/v1/pods/{namespace}/{pod}/report: the original snoop sidecar's report, for any pod."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from snoop.collector.api import schemas
from snoop.collector.api.deps import SessionDep
from snoop.collector.reports.pods import pod_report_of

router = APIRouter(prefix="/pods", tags=["pods"])


@router.get("/{namespace}/{pod}/report", response_model=None, responses={200: {"model": schemas.PodReport}})
def report(namespace: str, pod: str, session: SessionDep) -> dict[str, Any]:
    data = pod_report_of(session, namespace, pod)
    if data is None:
        raise HTTPException(404, f"no pod {namespace}/{pod}")
    return data
