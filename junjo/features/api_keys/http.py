"""HTTP adapter for API keys (Junjo AI Studio's paths; 201 on create, 204 on delete)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junjo.features.api_keys import service
from junjo.features.auth.guards import require_user
from junjo.server.http_utils import json_object


async def list_keys(request: Request) -> JSONResponse:
    actor = await require_user(request)
    keys = service.list_keys(request.app.state.control.db, actor)
    return JSONResponse([key.public() for key in keys])


async def create_key(request: Request) -> JSONResponse:
    actor = await require_user(request)
    body = await json_object(request)
    created = service.create_key(
        request.app.state.control.db, actor, body.get("name"), body.get("scope", "ingest")
    )
    return JSONResponse(created.public(), status_code=201)


async def delete_key(request: Request) -> Response:
    actor = await require_user(request)
    service.delete_key(request.app.state.control.db, actor, request.path_params["key_id"])
    return Response(status_code=204)


routes = [
    Route("/api_keys", list_keys, methods=["GET"]),
    Route("/api_keys", create_key, methods=["POST"]),
    Route("/api_keys/{key_id}", delete_key, methods=["DELETE"]),
]
