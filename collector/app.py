"""create_app(config): the FastAPI app; its lifespan runs the gRPC ingest server beside it."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from prometheus_client import generate_latest
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from snoop.collector.api.routes import diff, images, pods, slim, vulnerabilities, workloads
from snoop.collector.auth import cross_site, rest_guard, wants_page
from snoop.collector.config import CollectorConfig
from snoop.collector.encoding import SafeJSONResponse
from snoop.collector.grpc.inventory import single_writer_lock
from snoop.collector.grpc.server import build_server
from snoop.collector.metrics import CollectorMetrics
from snoop.collector.reports.cache import ReportCache
from snoop.collector.storage.db import make_engine, make_sessionmaker
from snoop.collector.storage.migrate import upgrade
from snoop.collector.storage.retention import Removed, Retention
from snoop.collector.web import pages
from snoop.common.version import VERSION

log = logging.getLogger(__name__)
DATABASE_RETRY_S = 2.0
YOUNG_OBJECTS = 100_000  # allocations between collections of the youngest generation (CPython: 700)
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"  # Swagger UI, shipped by a maintained package


def create_app(config: CollectorConfig, *, start_grpc: bool = True) -> FastAPI:
    engine = make_engine(config.db_url)
    sessions = make_sessionmaker(engine)
    metrics = CollectorMetrics()

    write_lock = single_writer_lock(sessions)  # ingest and retention take turns on SQLite's one writer

    def count_removed(removed: Removed) -> None:
        for what in ("instances", "instance_files", "images"):
            metrics.retention_removed.labels(what=what).inc(getattr(removed, what))

    retention = Retention(sessions, retain_instances_s=config.retain_instances_s,
                          retain_images_s=config.retain_images_s, write_lock=write_lock, on_removed=count_removed)

    def open_for_business(app: FastAPI) -> None:
        """What needs the database, once its schema is current: the gRPC ingest, retention, the REST."""
        if start_grpc:
            app.state.grpc_server, app.state.grpc_port = build_server(config, sessions, metrics, write_lock)
            retention.start(config.retention_interval_s)
        app.state.ready.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stopping = threading.Event()
        pages.compile_templates()
        try:
            upgrade(engine)
            open_for_business(app)
        except (OperationalError, InterfaceError) as exc:
            # A database that is not up yet (a pod started beside its PostgreSQL, a restart) is waited for: the
            # collector answers /healthz meanwhile, and 503 with Retry-After elsewhere.
            log.warning("database unreachable at start, retrying every %.0f s: %s", DATABASE_RETRY_S, exc)
            threading.Thread(target=await_database, args=(app, stopping), name="await-database", daemon=True).start()
        # What start-up made lives as long as the process: full collections skip it from here on, or each
        # pauses a request whose rows tip the collector over (80 ms in a first image page). And a report's
        # 100,000 rows are 300,000 young objects in no cycle: collected every 700 allocations they cost a cold
        # diff ~28 ms, every YOUNG_OBJECTS ~5 ms.
        gc.freeze()
        threshold = gc.get_threshold()
        gc.set_threshold(YOUNG_OBJECTS, *threshold[1:])
        try:
            yield
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            stopping.set()
            retention.stop()
            if app.state.grpc_server is not None:
                app.state.grpc_server.stop(config.shutdown_grace_s).wait()
            engine.dispose()

    def await_database(app: FastAPI, stopping: threading.Event) -> None:
        while not stopping.wait(DATABASE_RETRY_S):
            try:
                upgrade(engine)
            except (OperationalError, InterfaceError) as exc:
                log.info("database still unreachable: %s", exc)
                continue
            if not stopping.is_set():
                log.info("database reached: serving")
                open_for_business(app)
            return

    app = FastAPI(
        title="snoop collector",
        description="Which files container images really use at run time, merged across a cluster.",
        version=VERSION,
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        docs_url=None,  # served below from local assets: a CDN is out of reach where clusters are air-gapped
        redoc_url=None,
    )
    app.state.sessions = sessions
    app.state.ready = threading.Event()  # set once the schema is current and ingest runs
    app.state.grpc_server = None
    app.state.token = config.token
    app.state.metrics = metrics
    app.state.engine = engine
    app.state.report_cache = ReportCache()
    app.state.count_cache = ReportCache(max_entries=4096)  # image headers and page totals: small entries
    for router in (vulnerabilities.router, slim.router, images.router, diff.router, workloads.router, pods.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static/docs", StaticFiles(directory=SWAGGER_ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=Path(pages.__file__).parent / "static"), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="snoop collector API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")

    if config.token:
        app.middleware("http")(rest_guard(config.token, pages.login_page))

    @app.middleware("http")
    async def same_origin(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Changes come from this site or from programs, never from another site's page (CSRF)."""
        why = cross_site(request)
        if why is not None:
            return SafeJSONResponse({"detail": why}, status_code=403)
        return await call_next(request)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.request_seconds.labels(
            route=getattr(route, "path", "unmatched"), status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    @app.middleware("http")
    async def until_database(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Before the database was first reached, only health, metrics and static files answer."""
        path = request.scope["path"]
        if app.state.ready.is_set() or path in ("/healthz", "/readyz", "/metrics") or path.startswith("/static/"):
            return await call_next(request)
        return SafeJSONResponse({"detail": "database not reached yet; retry later"}, status_code=503,
                                headers={"Retry-After": "5"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        if not app.state.ready.is_set():
            return SafeJSONResponse({"status": "database not reached yet"}, status_code=503)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means not ready; its text (hosts, users) stays in the log
            log.warning("readyz: database unreachable: %s", exc)
            return SafeJSONResponse({"status": "database unreachable"}, status_code=503)
        return SafeJSONResponse({"status": "ready"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Errors render as pages for a person's browser; programs get JSON as before."""
        if wants_page(request):
            return pages.error_page(request, exc.status_code, str(exc.detail), getattr(exc, "suggestions", []))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if wants_page(request):
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
            return pages.error_page(request, 422, detail, [])
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_down(_request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        return SafeJSONResponse({"detail": "database unavailable; retry later"}, status_code=503,
                                headers={"Retry-After": "5"})

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """No name snoop stores holds NUL, and PostgreSQL refuses it in text: a 422, not a 500."""
        if "\0" in request.scope["path"] or b"%00" in request.scope.get("query_string", b""):
            return SafeJSONResponse({"detail": "a NUL character in the request"}, status_code=422)
        return await call_next(request)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type="text/plain; version=0.0.4")

    return app


def run_collector(config: CollectorConfig) -> int:
    import uvicorn

    app = create_app(config)
    host, port = config.http_listen
    # uvicorn re-raises the SIGTERM it shut down on into the handler it found: a no-op one makes a graceful
    # stop exit 0, as a Kubernetes pod being replaced should (not 143, which reads as an error).
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(app, host=host, port=port, log_config=None,  # the root logger's JSON lines (cli/logs.py)
                access_log=config.access_log, timeout_graceful_shutdown=int(config.shutdown_grace_s),
                # with TLS configured, REST is HTTPS too: its bearer token never crosses in clear
                ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key)
    return 0
