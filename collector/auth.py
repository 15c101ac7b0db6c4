"""Shared-token authentication for both front doors: REST (a middleware) and gRPC (an interceptor).

Probes (/healthz, /readyz) stay open so the kubelet needs no secret. Compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from fastapi import Request, Response

from snoop.collector.encoding import SafeJSONResponse

OPEN_PATHS = ("/healthz", "/readyz", "/login", "/static/snoop.css")
COOKIE = "snoop_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def token_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def cookie_matches(cookie: str | None, token: str) -> bool:
    return cookie is not None and hmac.compare_digest(cookie.encode(), token.encode())


def csrf_token(token: str) -> str:
    """What a page of a signed-in person sends back with a change: derived from the token, never the token."""
    return hmac.new(token.encode(), b"snoop csrf", hashlib.sha256).hexdigest()


def cross_site(request: Request) -> str | None:
    """Why a state-changing request comes from another site (its Origin, or Fetch Metadata), or None.
    SameSite=Strict does not cover another port of the host or a sibling subdomain: these checks do."""
    if request.method in SAFE_METHODS or request.headers.get("authorization", "").lower().startswith("bearer "):
        return None  # a program with the token: no browser sends a bearer header on another site's behalf
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request may not change anything here"
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return f"a request from {origin[:100]} may not change anything here"
    return None


def wants_page(request: Request) -> bool:
    """A person's browser (pages) rather than a program (the API, metrics)."""
    return not request.url.path.startswith(("/api/", "/metrics", "/openapi.json")) \
        and "text/html" in request.headers.get("accept", "")


def rest_guard(token: str, login_page: Callable[[Request], Response]) -> Callable[
        [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The bearer token, or the cookie the login form set (pages, and the downloads they link), or 401:
    a login form for a browser, JSON for a program."""

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in OPEN_PATHS or token_matches(request.headers.get("authorization"), token):
            return await call_next(request)
        if cookie_matches(request.cookies.get(COOKIE), token):
            given = request.headers.get(CSRF_HEADER, "")
            if request.method in SAFE_METHODS or hmac.compare_digest(given.encode(), csrf_token(token).encode()):
                return await call_next(request)
            return SafeJSONResponse({"detail": f"a change signed in by cookie needs the page's {CSRF_HEADER} "
                                               "header (or a bearer token)"}, status_code=403)
        if wants_page(request):
            return login_page(request)
        return SafeJSONResponse({"detail": "missing or wrong bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})

    return guard


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without ``authorization: Bearer <token>``; the health service stays open."""

    def __init__(self, token: str) -> None:
        self._token = token

        async def deny(_requests: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny = grpc.stream_stream_rpc_method_handler(deny)

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith("/grpc.health.v1.Health/"):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        if token_matches(metadata.get("authorization"), self._token):
            return await continuation(details)
        return self._deny
