"""The Starlette application: every feature's routes, error mapping, middleware."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from junjo import __version__
from junjo.config import Settings
from junjo.features.api_keys import http as api_keys_http
from junjo.features.api_keys.service import KeyVerifier
from junjo.features.auth import http as auth_http
from junjo.features.auth import passwords
from junjo.features.auth.sessions import SessionSigner
from junjo.features.auth.throttle import SignInThrottle
from junjo.features.ingest import http as ingest_http
from junjo.features.meta import http as meta_http
from junjo.features.traces import http as traces_http
from junjo.features.users import http as users_http
from junjo.kernel import errors
from junjo.kernel.control_db import ControlDB
from junjo.server.hosts import HostPolicy
from junjo.server.middleware import (
    SECURITY_HEADERS,
    AllowedHostsMiddleware,
    CrossOriginGuardMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
)
from junjo.server.openapi import build_openapi, document, iter_routes


@dataclass
class SetupState:
    """The one-time token that guards web setup of the first user (None once used)."""

    token: str | None


_STATUS_BY_ERROR: dict[type[errors.JunjoError], int] = {
    errors.InvalidInput: 422,
    errors.BadRequest: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PermissionDenied: 403,
    errors.TooManyAttempts: 429,
    errors.Busy: 503,
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.JunjoError)
    status = next(code for kind, code in _STATUS_BY_ERROR.items() if isinstance(exc, kind))
    headers = {}
    if isinstance(exc, errors.RetryLater):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path. Starlette's own 405 names only the
    methods of the first route that matched (``/api_keys`` has one route per method)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_routes(request.app.routes):
        if route.path_regex.match(path):
            methods |= route.methods or set()
    return sorted(methods)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler and uvicorn logs the traceback once. This
    # response bypasses the middleware, so it carries the security headers itself.
    return JSONResponse(
        {"detail": "Internal server error"}, status_code=500, headers=SECURITY_HEADERS
    )


async def _root(request: Request) -> JSONResponse:
    return JSONResponse({"app": meta_http.APP_NAME, "version": __version__, "health": "/health"})


@document("This OpenAPI document", auth="public", tag="meta")
async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(build_openapi(request.app.routes, __version__))


def feature_routes() -> list[BaseRoute]:
    return [
        *meta_http.routes,
        *auth_http.routes,
        *users_http.routes,
        *api_keys_http.routes,
        *traces_http.routes,
        *ingest_http.routes,
    ]


def host_policy(settings: Settings) -> HostPolicy:
    return HostPolicy.build(settings.allowed_hosts, settings.host, settings.public_url)


def create_app(
    settings: Settings,
    *,
    control: ControlDB,
    key_verifier: KeyVerifier,
    session_secret: str,
    setup_token: str | None = None,
    local_token: str | None = None,
    state: dict[str, Any] | None = None,
) -> Starlette:
    hosts = host_policy(settings)
    app = Starlette(
        routes=[
            *feature_routes(),
            Route("/openapi.json", _openapi),
            Route("/", _root),
        ],
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(AllowedHostsMiddleware, policy=hosts),
            Middleware(CrossOriginGuardMiddleware, policy=hosts, public_url=settings.public_url),
        ],
        exception_handlers={
            errors.JunjoError: _domain_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )
    app.state.settings = settings
    app.state.control = control
    app.state.key_verifier = key_verifier
    app.state.signer = SessionSigner(session_secret, settings.session_max_age_seconds)
    passwords.limit_concurrent_checks(settings.password_check_concurrency)
    app.state.throttle = SignInThrottle(
        settings.signin_max_failures_per_account,
        settings.signin_max_failures_per_client,
        settings.signin_failure_window_seconds,
        settings.signin_max_delay_seconds,
    )
    app.state.setup = SetupState(setup_token)
    app.state.local_token = local_token
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    return app
