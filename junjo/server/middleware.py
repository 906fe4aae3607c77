"""Cross-cutting ASGI middleware: one log line per request, security headers, the Host
check and the CSRF origin check."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from junjo.server.hosts import HostPolicy, normalize_host

log = logging.getLogger("junjo.http")

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# OTLP exporters authenticate with API keys, never cookies, so they cannot be forged.
_CSRF_EXEMPT_PATHS = {"/v1/traces", "/v1/metrics", "/v1/logs"}
# Not Host-checked: a DNS-rebinding page gains nothing there (the OTLP doors need an API
# key, /health tells only the version), while a 400 would make OTLP exporters drop data
# and health probes fail for every name the operator did not list.
_ANY_HOST_PATHS = _CSRF_EXEMPT_PATHS | {"/health"}

# The web UI is static files of this package, same origin, plain ES modules: no inline
# script or style, nothing from other origins. docs/auth.md explains each directive.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
    " form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: with it, browsers send "Origin: null" on the UI's own POSTs, which
    # the CSRF check must refuse.
    "Referrer-Policy": "same-origin",
    # Every response is dynamic and most are authenticated data; a handler that wants
    # caching (static UI files) sets its own Cache-Control.
    "Cache-Control": "no-store",
}


class RequestLogMiddleware:
    """Logs method, path (never the query string, which may carry tokens), status, time
    and client address."""

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
            path = _log_safe(scope["path"])
            client = _log_safe((scope.get("client") or ("-", 0))[0])
            log.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
                client,
                extra={
                    "http_method": scope["method"],
                    "http_path": path,
                    "http_status": status,
                    "client": client,
                },
            )


def _log_safe(text: str) -> str:
    """Percent-encode what could forge or garble a log line. The ASGI path is already
    percent-decoded, so ``%0a`` in a URL arrives here as a real newline."""
    return quote(text, safe="/:@!$&'()*+,;=[]", errors="backslashreplace")


# Sent on responses that went out over https (junjo's own TLS, or a trusted proxy's
# X-Forwarded-Proto): browsers then refuse plain http to this host for a year. Not for
# subdomains (includeSubDomains would bind sites junjo knows nothing of), and not for
# localhost, where it would bind every other local dev server on any port (HSTS ignores
# ports); browsers ignore it for IP addresses themselves (RFC 6797 8.1).
HSTS = ("Strict-Transport-Security", "max-age=31536000")


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every response, unless the handler set that header, and
    ``HSTS`` to those sent over https."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = scope.get("scheme") == "https" and not _is_localhost(_header(scope, "host"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if hsts:
                    headers.setdefault(*HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AllowedHostsMiddleware:
    """Answers 400 to requests whose ``Host`` is not one of ours (see junjo.server.hosts)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in _ANY_HOST_PATHS:
            raw = _header(scope, "host")
            host = normalize_host(raw) if raw is not None else _local_address(scope)
            if host is None or not self.policy.allows(host, _local_address(scope)):
                detail = (
                    f"Host {raw!r} is not allowed here: add it to the allowed_hosts setting"
                    " (or set public_url)"
                )
                await _refuse(send, 400, detail)
                return
        await self.app(scope, receive, send)


class CrossOriginGuardMiddleware:
    """Refuse state-changing requests that a browser sent on behalf of another site.

    Browsers attach ``Origin`` (and ``Sec-Fetch-Site``) to cross-origin POST/DELETE; a
    mismatch with our own host means a forged request riding on the session cookie.
    Clients that are not browsers (curl, the CLI, SDKs) send neither and pass. Behind a
    proxy that rewrites ``Host``, the configured ``public_url`` is our origin too.
    """

    def __init__(self, app: ASGIApp, policy: HostPolicy, public_url: str = "") -> None:
        self.app = app
        self.policy = policy
        self.public_netloc = urlsplit(public_url).netloc.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in _SAFE_METHODS
            and scope["path"] not in _CSRF_EXEMPT_PATHS
            and self._is_cross_site(scope)
        ):
            await _refuse(send, 403, "Cross-origin request refused")
            return
        await self.app(scope, receive, send)

    def _is_cross_site(self, scope: Scope) -> bool:
        origin = _header(scope, "origin")
        if origin is None:
            return _header(scope, "sec-fetch-site") == "cross-site"
        netloc = urlsplit(origin).netloc.lower()
        origin_host = normalize_host(netloc)
        if origin == "null" or origin_host is None:
            return True
        if not self.policy.allows(origin_host, _local_address(scope)):
            return True  # only a page served under one of our names is ours
        ours = {self.public_netloc, (_header(scope, "host") or "").lower()} - {""}
        return netloc not in ours


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


def _is_localhost(host: str | None) -> bool:
    name = normalize_host(host) if host else None
    return name is not None and (name == "localhost" or name.endswith(".localhost"))


def _local_address(scope: Scope) -> str | None:
    server = scope.get("server")
    return server[0] if server else None


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
