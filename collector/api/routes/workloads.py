"""/api/v1/workloads: files per Deployment/StatefulSet/…, merged over all its pods and restarts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from snoop.collector.api import schemas
from snoop.collector.api.deps import Limit, Offset, SessionDep, file_filter
from snoop.collector.api.render import Format, file_json, file_list_response
from snoop.collector.encoding import SafeJSONResponse, iso
from snoop.collector.reports.filters import Page
from snoop.collector.reports.hardening import hardening
from snoop.collector.reports.workloads import workload_exists, workload_files, workload_kind, workload_summaries

router = APIRouter(prefix="/workloads", tags=["workloads"])


@router.get("", response_model=None, responses={200: {"model": schemas.WorkloadList}})
def list_workloads(session: SessionDep, namespace: str | None = None, limit: Limit = None,
                   offset: Offset = 0) -> dict[str, Any]:
    """``kind_source`` says whether the kind came from owner data or was guessed from the pod name."""
    rows, total = workload_summaries(session, Page(limit, offset), namespace)
    workloads = [
        {**{k: v for k, v in r.items() if not k.endswith("_ns")}, "first_seen": iso(r["first_seen_ns"]),
         "last_seen": iso(r["last_seen_ns"])}
        for r in rows
    ]
    return {"workloads": workloads, "total": total}


@router.get("/{namespace}/{name}/files", response_model=None, responses={200: {"model": schemas.WorkloadFiles}})
def files_of_workload(
    namespace: str,
    name: str,
    session: SessionDep,
    prefix: str | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query(description="file, dir, symlink, runtime, unknown")] = None,  # noqa: A002
    since: str | None = None,
    format: Format = Format.json,  # noqa: A002
    limit: Limit = None,
    offset: Offset = 0,
) -> Response:
    if not workload_exists(session, namespace, name):
        raise HTTPException(404, f"no workload {namespace}/{name}")
    rows, total = workload_files(session, namespace, name, file_filter(prefix, kind, since, type, format),
                                 Page(limit, offset))
    if format is not Format.json:
        return file_list_response(rows, format, details=True)
    return SafeJSONResponse({"namespace": namespace, "name": name, "files": [file_json(r) for r in rows],
                             "total": total})


class HardeningFormat(StrEnum):
    json = "json"
    yaml = "yaml"


@router.get("/{namespace}/{name}/hardening", response_model=None, responses={200: {"model": schemas.Hardening}})
def hardening_of_workload(namespace: str, name: str, session: SessionDep,
                          format: HardeningFormat = HardeningFormat.json) -> Response:  # noqa: A002
    """Which directories each container wrote to, the fewest to mount writable with a read-only root
    filesystem, and the strategic-merge patch that does it; ``format=yaml`` answers the patch alone (for
    kustomize's ``patches:`` or ``kubectl patch --type strategic``)."""
    kind = workload_kind(session, namespace, name)
    if kind is None:
        raise HTTPException(404, f"no workload {namespace}/{name}")
    report = hardening(session, namespace, name, kind)
    if format is HardeningFormat.json:
        return SafeJSONResponse(report)
    if report["patch"] is None:
        raise HTTPException(409, f"{namespace}/{name} is a {report['kind'] or 'workload of unknown kind'}: no pod "
                                 "template to patch is known for it; the JSON answer lists the directories")
    return Response(yaml.safe_dump(report["patch"], sort_keys=False), media_type="application/yaml")
