"""HTTP adapter for users (Junjo AI Studio's paths and messages)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features.users import service
from junjo.features.users.passwords import MAX_LENGTH, MIN_LENGTH
from junjo.server.endpoint import ERROR_SCHEMA, MESSAGE, STRING, Schema, endpoint, principal_of
from junjo.server.http_utils import control_call, json_object

EMAIL: Schema = {"type": "string", "format": "email", "maxLength": 254}
PASSWORD: Schema = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
CREDENTIALS: Schema = {
    "type": "object",
    "properties": {"email": EMAIL, "password": PASSWORD},
    "required": ["email", "password"],
}

USER_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "id": STRING,
            "email": STRING,
            "is_active": {"type": "boolean"},
            "created_at": STRING,
            "updated_at": STRING,
        },
    },
}


@endpoint("List users", auth="session", tag="users", responses={200: USER_LIST})
async def list_users(request: Request) -> JSONResponse:
    actor = principal_of(request)
    found = await control_call(request, service.list_users, actor)
    return JSONResponse([user.public() for user in found])


@endpoint(
    "Create a user",
    auth="session",
    tag="users",
    body=CREDENTIALS,
    responses={200: MESSAGE, 409: ERROR_SCHEMA, 422: ERROR_SCHEMA, 503: ERROR_SCHEMA},
)
async def create_user(request: Request) -> JSONResponse:
    actor = principal_of(request)
    body = await json_object(request)
    await control_call(request, service.create_user, actor, body.get("email"), body.get("password"))
    return JSONResponse({"message": "User created successfully"})


@endpoint(
    "Delete a user (not the last one); their sessions end at once",
    auth="session",
    tag="users",
    responses={200: MESSAGE, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA},
)
async def delete_user(request: Request) -> JSONResponse:
    actor = principal_of(request)
    await control_call(request, service.delete_user, actor, request.path_params["user_id"])
    return JSONResponse({"message": "User deleted successfully"})


routes = [
    Route("/users", list_users, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{user_id}", delete_user, methods=["DELETE"]),
]
