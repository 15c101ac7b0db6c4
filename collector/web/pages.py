"""The web view: server-rendered pages over the same reports as the REST API, at stable URLs a CI job or
a chat message can link (``/images/{ref}``, ``/diff?base=A&head=B``). No script is needed to read them;
file lists are paged, so the browser never receives an image's whole list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from snoop.collector.api.deps import Offset, SessionDep, image_or_404
from snoop.collector.auth import COOKIE, cookie_matches, csrf_token
from snoop.collector.encoding import iso
from snoop.collector.reports.cache import ReportCache, fingerprint
from snoop.collector.reports.contents import (
    inventory_of,
    packages,
    summary,
    unused_files,
    used_files,
    used_package_names,
)
from snoop.collector.reports.coverage import coverage
from snoop.collector.reports.diff import diff_images
from snoop.collector.reports.directories import subtree
from snoop.collector.reports.filters import FileFilter, Page
from snoop.collector.reports.images import (
    count_files,
    find_image,
    image_files_page,
    image_summaries,
)
from snoop.collector.reports.pods import pod_report_of
from snoop.collector.reports.verification import slims_of, verification
from snoop.collector.reports.workloads import workload_summaries
from snoop.collector.storage.models import ContainerInstance, Image
from snoop.collector.vulns.service import findings_of, in_use_counts, in_use_ids, latest, verdicts
from snoop.collector.web.chart import CHART, curve_points
from snoop.collector.web.treemap import MAX_TILES, Node, nested, nodes, shade, squarify
from snoop.common.file_types import KEEP
from snoop.common.file_types import NAMES as TYPE_NAMES
from snoop.common.units import count, human_bytes

PAGE = 100
TREEMAP = (960.0, 420.0)
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


templates.env.filters["human"] = lambda n: human_bytes(n, "–")
templates.env.filters["iso"] = iso
templates.env.filters["urlpart"] = lambda s: quote(str(s), safe="/:@")
templates.env.filters["shade"] = shade
templates.env.globals["severities"] = SEVERITIES
templates.env.filters["count"] = count
templates.env.globals["csrf_for"] = lambda request: (
    csrf_token(request.app.state.token) if request.app.state.token
    and cookie_matches(request.cookies.get(COOKIE), request.app.state.token) else "")


def compile_templates() -> None:
    """At start-up, not in the first person's view of a page (40 ms)."""
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)


def _name(summary_row: dict[str, Any]) -> str:
    return summary_row["references"][0] if summary_row["references"] else summary_row["digest"]


@router.get("/", response_class=HTMLResponse)
def images_page(request: Request, session: SessionDep, namespace: str | None = None, q: str | None = None,
                sort: str = "last_seen") -> HTMLResponse:
    rows, _ = image_summaries(session, Page(None), namespace=namespace or None)
    if q:
        rows = [r for r in rows if q.lower() in " ".join([r["digest"], *r["references"]]).lower()]
    vulns = in_use_counts(session, [r["id"] for r in rows])
    for r in rows:
        image = session.get(Image, r["id"])
        assert image is not None
        r["coverage"] = coverage(session, image, 0)
        r["vulns"] = vulns.get(r["id"])
        r["name"] = _name(r)
    keys = {"name": lambda r: r["name"], "bytes": lambda r: -(r["bytes"] or 0),
            "used": lambda r: -(r["used_bytes"] or 0), "containers": lambda r: -r["containers"],
            "last_seen": lambda r: -r["last_seen_ns"]}
    rows.sort(key=keys.get(sort, keys["last_seen"]))
    namespaces = sorted(set(session.scalars(select(ContainerInstance.namespace).distinct())))
    return templates.TemplateResponse(request, "images.html", {
        "images": rows, "namespace": namespace or "", "q": q or "", "sort": sort, "namespaces": namespaces})


@router.get("/images/{ref:path}", response_class=HTMLResponse)
def image_page(request: Request, session: SessionDep, ref: str, dir: str = "/", prefix: str = "",  # noqa: A002
               used: str = "true", offset: Offset = 0) -> HTMLResponse:
    image = image_or_404(session, ref)
    row = image_summaries(session, Page(None), digests=[image.digest])[0][0]
    usage = used_files(session, image) if inventory_of(session, image) is not None else None
    facts = summary(session, image, usage)
    directory = os.fsencode("/" + dir.strip("/"))
    directory, nodes = _treemap(request, session, image, directory)
    tiles = squarify(nodes, 0, 0, *TREEMAP)
    inner = nested(tiles)
    crumbs = [("/", "/")]
    for part in [p for p in directory.decode("utf-8", "replace").split("/") if p]:
        crumbs.append((part, crumbs[-1][1].rstrip("/") + "/" + part))
    offset = max(0, offset)
    want_used = used != "false"
    pfx = os.fsencode(prefix) if prefix else None
    if want_used:
        found, spread = image_files_page(session, image, FileFilter(prefix=pfx, types=KEEP), Page(PAGE, offset))
        total = count_files(session, image, FileFilter(prefix=pfx, types=KEEP))
        files = [{"path": os.fsdecode(r[0]), "type": TYPE_NAMES[r[5]], "size": r[6], "package": r[7],
                  "containers": r[1], "nodes": n} for r, n in zip(found, spread, strict=True)]
    elif inventory_of(session, image) is not None:
        found, total = unused_files(session, image, pfx, Page(PAGE, offset))
        files = [{"path": os.fsdecode(p), "type": TYPE_NAMES[t], "size": size, "package": pkg, "containers": 0,
                  "nodes": 0} for p, size, t, pkg in found]
    else:
        files, total = [], 0
    scan = latest(session, image)
    vulns = verdicts(session, image, findings_of(scan)) if scan else None
    api = f"/api/v1/images/{quote(image.digest)}"
    slims = [(slim, (verification(session, slim) or {}).get("status", "")) for slim in slims_of(session, image)]
    return templates.TemplateResponse(request, "image.html", {
        "image": image, "row": row, "name": _name(row), "facts": facts, "curve": curve_points(facts["discovery"]),
        "chart": CHART,
        "tiles": tiles, "inner": inner, "size": TREEMAP,
        "crumbs": crumbs, "dir": directory.decode("utf-8", "replace"), "packages": sorted(
            packages(session, image, usage=usage), key=lambda p: -p["bytes"]), "files": files, "total": total,
        "offset": offset, "page": PAGE, "used": want_used, "prefix": prefix, "scan": scan, "vulns": vulns,
        "verified": verification(session, image), "slims": slims,
        "api": api, "ref": ref, "query": lambda **kw: urlencode({k: v for k, v in {
            "dir": dir, "prefix": prefix, "used": used, "offset": offset, **kw}.items() if v not in ("", None)})})


def _treemap(request: Request, session: SessionDep, image: Image, directory: bytes) -> tuple[bytes, list[Node]]:
    """The directory to draw (a lone subdirectory is skipped) and its two levels of nodes, from the sums
    kept per directory; each drawn directory is kept while the image's data is unchanged, and views of
    one directory at once compute it once."""
    if inventory_of(session, image) is None:
        return directory, []
    cache: ReportCache = request.app.state.report_cache

    def compute() -> tuple[bytes, list[Node]]:
        sub = subtree(session, image, directory, MAX_TILES)
        return (directory, []) if sub is None else (sub.shown.path, nodes(sub))

    return cache.get(("treemap", image.id, directory), fingerprint(session, image.id), compute)


@router.get("/diff", response_class=HTMLResponse)
def diff_page(request: Request, session: SessionDep, base: str = "", head: str = "") -> HTMLResponse:
    context: dict[str, Any] = {"base": base, "head": head, "result": None, "error": None,
                               "references": [_name(r) for r in image_summaries(session, Page(None))[0]]}
    if base and head:
        old, new = find_image(session, base), find_image(session, head)
        if old is None or new is None:
            context["error"] = f"no image {base if old is None else head!r}"
        else:
            d = diff_images(session, old, new, with_common=False)
            before, after = used_package_names(session, old), used_package_names(session, new)
            sizes = {i: (s["used_bytes"], s["bytes"]) for i, s in
                     ((r["id"], r) for r in image_summaries(session, Page(None), digests=[old.digest, new.digest])[0])}
            vb, va = in_use_ids(session, old), in_use_ids(session, new)
            context["result"] = {
                "added": _by_directory(d.added), "removed": _by_directory(d.removed),
                "n_added": len(d.added), "n_removed": len(d.removed),
                "packages_added": sorted(k for k in after if k not in before),
                "packages_removed": sorted(k for k in before if k not in after),
                "bytes": (sizes.get(old.id), sizes.get(new.id)), "base": old, "head": new,
                "vulns": None if vb is None or va is None else (sorted(va - vb), sorted(vb - va)),
            }
    return templates.TemplateResponse(request, "diff.html", context)


def _by_directory(paths: list[bytes]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for p in paths:
        directory, name = os.path.split(os.fsdecode(p))
        groups.setdefault(directory or "/", []).append(name)
    return sorted(groups.items())


@router.get("/workloads", response_class=HTMLResponse)
def workloads_page(request: Request, session: SessionDep, namespace: str | None = None) -> HTMLResponse:
    rows, _ = workload_summaries(session, Page(None), namespace or None)
    pods = {(ns, name): sorted(set(session.scalars(select(ContainerInstance.pod).where(
        ContainerInstance.namespace == ns, ContainerInstance.workload_name == name)))) for ns, name in
        ((r["namespace"], r["name"]) for r in rows)}
    return templates.TemplateResponse(request, "workloads.html", {"workloads": rows, "pods": pods,
                                                                  "namespace": namespace or ""})


@router.get("/pods/{namespace}/{pod}", response_class=HTMLResponse)
def pod_page(request: Request, session: SessionDep, namespace: str, pod: str) -> HTMLResponse:
    report = pod_report_of(session, namespace, pod)
    if report is None:
        raise HTTPException(404, f"no pod {namespace}/{pod}")
    return templates.TemplateResponse(request, "pod.html", {"report": report, "namespace": namespace, "pod": pod,
                                                            "limit": 500})



def error_page(request: Request, status: int, detail: str, suggestions: list[str]) -> HTMLResponse:
    """An error a person meets in the web view, as a page: what went wrong, and the nearest names."""
    return templates.TemplateResponse(request, "error.html", {"status": status, "detail": detail,
                                                              "suggestions": suggestions}, status_code=status)


def login_page(request: Request, *, wrong: bool = False, then: str | None = None) -> HTMLResponse:
    """401 with a form that takes the collector's token once, then goes on to the page asked for."""
    target = then or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(target), "wrong": wrong},
                                      status_code=401)


def _safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = request.app.state.token
    given, then = (form.get("token") or [""])[0], _safe_next((form.get("next") or ["/"])[0])
    if token is None:
        return RedirectResponse(then, status_code=303)
    if not cookie_matches(given, token):
        return login_page(request, wrong=True, then=then)
    response = RedirectResponse(then, status_code=303)
    response.set_cookie(COOKIE, given, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response
