"""Domain errors as HTTP answers, through the one table in ``junjo.kernel.errors``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from junjo.kernel.errors import GRPC_CODES, JunjoError, RetryLater, TimedOut, outcome
from junjo.server.middleware import SECURITY_HEADERS
from junjo.server.openapi import iter_routes


def error_headers(error: JunjoError) -> tuple[int, int, dict[str, str]]:
    """(HTTP status, google.rpc.Code, headers) for a domain error."""
    result = outcome(error)
    headers = {}
    if isinstance(error, RetryLater):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, TimedOut):
        # The rest of the body would come from the same slow client: close instead.
        headers["Connection"] = "close"
    return result.http, GRPC_CODES[result.grpc], headers


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JunjoError)
    status, _, headers = error_headers(exc)
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own: no route (404), a method the path does not take (405)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path. Starlette's own 405 names only the
    methods of the first route that matched (``/api_keys`` has one route per method).
    Routes left out of the OpenAPI document (the web UI's catch-all shell, which takes GET
    on any path) are not methods of an API path."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_routes(request.app.routes):
        if route.include_in_schema and route.path_regex.match(path):
            methods |= route.methods or set()
    return sorted(methods)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler and uvicorn logs the traceback once. This
    # response bypasses the middleware, so it carries the security headers itself.
    return JSONResponse(
        {"detail": "Internal server error"}, status_code=500, headers=SECURITY_HEADERS
    )
