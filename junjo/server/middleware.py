"""Cross-cutting ASGI middleware: one log line per request, and the CSRF origin check."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("junjo.http")

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# OTLP exporters authenticate with API keys, never cookies, so they cannot be forged.
_CSRF_EXEMPT_PATHS = {"/v1/traces", "/v1/metrics", "/v1/logs"}


class RequestLogMiddleware:
    """Logs method, path (never the query string, which may carry tokens), status, time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "http_method": scope["method"],
                    "http_path": scope["path"],
                    "http_status": status,
                    "client": client[0],
                },
            )


class CrossOriginGuardMiddleware:
    """Refuse state-changing requests that a browser sent on behalf of another site.

    Browsers attach ``Origin`` (and ``Sec-Fetch-Site``) to cross-origin POST/DELETE; a
    mismatch with our own host means a forged request riding on the session cookie.
    Clients that are not browsers (curl, the CLI, SDKs) send neither and pass. Behind a
    proxy that rewrites ``Host``, the configured ``public_url`` is our origin too.
    """

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.trusted_hosts = {urlsplit(public_url).netloc.lower()} - {""}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in _SAFE_METHODS
            and scope["path"] not in _CSRF_EXEMPT_PATHS
            and _is_cross_site(scope, self.trusted_hosts)
        ):
            body = json.dumps({"detail": "Cross-origin request refused"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _is_cross_site(scope: Scope, trusted_hosts: set[str]) -> bool:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    origin = headers.get("origin")
    if origin is not None:
        ours = trusted_hosts | {headers.get("host", "").lower()}
        return origin == "null" or urlsplit(origin).netloc.lower() not in ours
    return headers.get("sec-fetch-site", "") == "cross-site"
