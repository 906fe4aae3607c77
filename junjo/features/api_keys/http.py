"""HTTP adapter for API keys (Junjo AI Studio's paths; 201 on create, 204 on delete)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junjo.features.api_keys import service
from junjo.features.api_keys.service import KeyVerifier
from junjo.kernel.credentials import presented_key
from junjo.kernel.principal import Principal
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, STRING, Schema, endpoint, principal_of
from junjo.server.http_utils import control_call, json_object

API_KEY_FIELDS: Schema = {
    "id": STRING,
    "name": STRING,
    "key": STRING | {"description": 'the prefix and "..." (the full key only on create)'},
    "prefix": STRING,
    "scope": {"enum": ["ingest", "read"]},
    "created_at": STRING,
    "last_used_at": {"type": ["string", "null"]},
}
API_KEY: Schema = {"type": "object", "properties": API_KEY_FIELDS}
CREATED_KEY = API_KEY | {
    "properties": {**API_KEY_FIELDS, "key": STRING | {"description": "the full key, shown once"}}
}


@endpoint(
    'List API keys; key is masked (prefix + "..."), never the key itself',
    auth="session",
    tag="api keys",
    responses={200: {"type": "array", "items": API_KEY}},
)
async def list_keys(request: Request) -> JSONResponse:
    actor = principal_of(request)
    keys = await control_call(request, service.list_keys, actor)
    return JSONResponse([key.public() for key in keys])


@endpoint(
    "Create an API key; the response is the only time the full key is shown",
    auth="session",
    tag="api keys",
    body={
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": "\\S", "maxLength": service.MAX_NAME_LENGTH},
            "scope": {"enum": list(service.SCOPES)},
        },
        "required": ["name"],
    },
    responses={201: CREATED_KEY, 422: ERROR_SCHEMA},
)
async def create_key(request: Request) -> JSONResponse:
    actor = principal_of(request)
    body = await json_object(request)
    created = await control_call(
        request, service.create_key, actor, body.get("name"), body.get("scope", "ingest")
    )
    return JSONResponse(created.public(), status_code=201)


@endpoint(
    "Delete an API key; ingestion refuses it from the next request",
    auth="session",
    tag="api keys",
    responses={204: None, 404: ERROR_SCHEMA},
)
async def delete_key(request: Request) -> Response:
    actor = principal_of(request)
    await control_call(request, service.delete_key, actor, request.path_params["key_id"])
    return Response(status_code=204)


routes = [
    Route("/api_keys", list_keys, methods=["GET"]),
    Route("/api_keys", create_key, methods=["POST"]),
    Route("/api_keys/{key_id}", delete_key, methods=["DELETE"]),
]


def key_principal(request: Request) -> Principal | None:
    """A read or ingest key given as ``Authorization: Bearer`` (or ``x-junjo-api-key``);
    the door then refuses an ingest key anything but sending telemetry."""
    raw = presented_key(request.headers.get)
    key = state_of(request).get(KeyVerifier).verify(raw) if raw else None
    if key is None:
        return None
    return Principal("api_key", key.id, key.name, scope=key.scope)
