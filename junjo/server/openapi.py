"""The OpenAPI document, built from metadata attached to each endpoint.

Each HTTP adapter decorates its endpoints with ``@document(...)`` beside the code, so the
description cannot drift far from the route; ``build_openapi`` walks the app's routes and a
test fails when a route has no description.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from starlette.routing import BaseRoute, Mount, Route

Auth = Literal["public", "session", "session_or_read_key", "api_key", "setup_token"]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "public": [],
    "session": [{"session": []}],
    "session_or_read_key": [{"session": []}, {"bearer": []}],
    "api_key": [{"apiKeyHeader": []}, {"bearer": []}],
    "setup_token": [],
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
}


def document(
    summary: str,
    *,
    auth: Auth,
    tag: str,
    responses: dict[int, dict[str, Any] | None] | None = None,
    body: dict[str, Any] | None = None,
    query: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Attach an OpenAPI operation to an endpoint. ``responses`` maps status → JSON schema."""

    def attach(endpoint: Endpoint) -> Endpoint:
        endpoint.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "auth": auth,
            "tag": tag,
            "responses": responses or {200: None},
            "body": body,
            "query": query or {},
        }
        return endpoint

    return attach


def _operation(meta: dict[str, Any], path_params: Iterable[str]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, schema in meta["responses"].items():
        entry: dict[str, Any] = {"description": "OK" if status < 300 else "Error"}
        if schema is not None:
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    if meta["auth"] not in ("public", "setup_token"):
        responses.setdefault("401", _error("Not signed in / no valid key"))
    op: dict[str, Any] = {
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "security": _SECURITY[meta["auth"]],
        "responses": responses,
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_params
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in meta["query"].items()
    ]
    if params:
        op["parameters"] = params
    if meta["body"] is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": meta["body"]}},
        }
    return op


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


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
        "info": {"title": "Junjo server", "version": version},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "junjo_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-junjo-api-key"},
            }
        },
    }
