"""Static files and the app shell.

``/static/...`` are files of ``junjo/features/web/static``. Any other GET answers ``index.html``
(the UI routes in the browser), except a path under a first segment that another feature
routes (``/api``, ``/v1``, ``/users``, ``/health``, ...): those keep their JSON 404 and 405,
so an API client never gets HTML.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from junjo.server.openapi import iter_routes

STATIC_DIR = Path(__file__).resolve().parent / "static"
APP_SHELL = STATIC_DIR / "index.html"
# The shell and the UI's own files are revalidated on every load (their names carry no
# content hash, so an upgrade shows at once); vendored libraries carry their version in
# their path and never change.
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}


async def static_file(request: Request) -> Response:
    path = _static_path(request.path_params["path"])
    if path is None:
        raise HTTPException(404)
    return _file(request, path, IMMUTABLE if _is_versioned(path) else REVALIDATE)


def _is_versioned(path: Path) -> bool:
    """A file of ``vendor/<name>-<version>/`` (scripts/vendor_web.py), not VENDORED.json."""
    parts = path.relative_to(STATIC_DIR).parts
    return parts[0] == "vendor" and len(parts) > 2


async def app_shell(request: Request) -> Response:
    path = request.scope["path"]
    if _is_api_path(request, path):
        _raise_as_router_would(request, path)
    return _file(request, APP_SHELL, REVALIDATE)


def _static_path(relative: str) -> Path | None:
    """The file under STATIC_DIR at ``relative``; None if absent or outside it."""
    candidate = (STATIC_DIR / relative).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        return None
    return candidate


def _file(request: Request, path: Path, cache_control: str) -> Response:
    # LICENSE and the like have no suffix: text.
    media_type = _MEDIA_TYPES.get(path.suffix or ".txt", "application/octet-stream")
    # With stat_result, the ETag and Last-Modified are set now, for the comparison below.
    response = FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": cache_control},
        stat_result=path.stat(),
    )
    if request.headers.get("if-none-match") == response.headers["etag"]:
        return Response(status_code=304, headers=_not_modified_headers(response))
    return response


def _not_modified_headers(response: Response) -> dict[str, str]:
    return {name: response.headers[name] for name in ("etag", "cache-control", "last-modified")}


# API by convention even when the feature that serves them is not loaded: a probe or an
# exporter asking a server without it gets a JSON 404, not the shell. The UI never uses them.
RESERVED_ROOTS = frozenset({"api", "v1", "health", "openapi.json", "static"})


def _api_roots(request: Request) -> set[str]:
    """The first path segments other features route (``{"users", "sign-in", ...}``), and
    ``RESERVED_ROOTS``."""
    routed = {route.path.strip("/").split("/")[0] for route in _other_routes(request)}
    return (routed | RESERVED_ROOTS) - {""}


def _other_routes(request: Request) -> list[Route]:
    return [
        route
        for route in iter_routes(request.app.routes)
        if route.endpoint not in (app_shell, static_file)
    ]


def _is_api_path(request: Request, path: str) -> bool:
    return path.strip("/").split("/")[0] in _api_roots(request)


def _raise_as_router_would(request: Request, path: str) -> None:
    """405 where another route has this path for other methods, else 404: both JSON, and
    the 405's Allow, through junjo.server.errors.http_error."""
    if any(route.path_regex.match(path) for route in _other_routes(request)):
        raise HTTPException(405)
    raise HTTPException(404)


routes = [
    Route("/static/{path:path}", static_file, methods=["GET"], include_in_schema=False),
    Route("/{path:path}", app_shell, methods=["GET"], include_in_schema=False),
]
