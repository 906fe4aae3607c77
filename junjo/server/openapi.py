"""The OpenAPI document, built from what each endpoint declares (``junjo.server.endpoint``).

``build_openapi`` walks the app's routes; a test fails when a route has no description.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from junjo.server.endpoint import Body, Content

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "public": [],
    "session": [{"session": []}],
    "session_or_read_key": [{"session": []}, {"bearer": []}],
    "api_key": [{"apiKeyHeader": []}, {"bearer": []}],
    "setup_token": [],
}


def _implied_errors(meta: dict[str, Any]) -> list[int]:
    """Statuses the shared code answers for any endpoint that declares these inputs."""
    statuses = []
    if meta["auth"] not in ("public", "setup_token"):
        statuses.append(401)  # the guard: no session, no valid key
    if meta["auth"] == "session_or_read_key":
        statuses.append(403)  # an ingest key, which may read nothing
    if isinstance(meta["body"], dict):
        statuses += [400, 413, 422]  # http_utils.json_object: malformed, too big, not an object
    if meta["query"] or meta["path"]:
        statuses.append(422)  # a parameter that breaks its schema
    return statuses


def _response(status: int, body: Body | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if body is not None:
        entry["content"] = _content(body)
    return entry


def _content(body: Body) -> dict[str, Any]:
    schemas = body.by_media_type if isinstance(body, Content) else {"application/json": body}
    return {media_type: {"schema": schema} for media_type, schema in schemas.items()}


def _operation(meta: dict[str, Any], path_params: Iterable[str]) -> dict[str, Any]:
    responses = {str(status): _response(status, body) for status, body in meta["responses"].items()}
    for status in _implied_errors(meta):
        responses.setdefault(str(status), _response(status, meta["error_body"]))
    op: dict[str, Any] = {
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "security": _SECURITY[meta["auth"]],
        "responses": dict(sorted(responses.items())),
    }
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": meta["path"].get(name, {"type": "string"}),
        }
        for name in path_params
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in meta["query"].items()
    ]
    if params:
        op["parameters"] = params
    if meta["body"] is not None:
        op["requestBody"] = {"required": True, "content": _content(meta["body"])}
    return op


_DESCRIPTION = (
    "Every route but /health and /v1/* answers 400 when the Host header is not a name this"
    " server answers to (the allowed_hosts setting), and those of them that change data"
    " (POST, DELETE) answer 403 when Origin or Sec-Fetch-Site shows another site."
)


def iter_routes(routes: Iterable[BaseRoute]) -> Iterable[Route]:
    for route in routes:
        if isinstance(route, Route):
            yield route
        elif isinstance(route, Mount):
            yield from iter_routes(route.routes or [])


def openapi_path(route: Route) -> str:
    """Starlette's ``{name:path}`` becomes OpenAPI's ``{name}``."""
    return route.path.replace(":path}", "}")


def build_openapi(routes: Iterable[BaseRoute], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in iter_routes(routes):
        meta = getattr(route.endpoint, "__openapi__", None)
        if meta is None:
            continue
        item = paths.setdefault(openapi_path(route), {})
        for method in sorted((route.methods or set()) - {"HEAD"}):
            item[method.lower()] = _operation(meta, route.param_convertors)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Junjo server", "version": version, "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "junjo_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-junjo-api-key"},
            }
        },
    }
