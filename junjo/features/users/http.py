"""HTTP adapter for users (Junjo AI Studio's paths and messages)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features.auth.guards import require_user
from junjo.features.users import service
from junjo.server.http_utils import json_object


async def list_users(request: Request) -> JSONResponse:
    actor = await require_user(request)
    found = service.list_users(request.app.state.control.db, actor)
    return JSONResponse([user.public() for user in found])


async def create_user(request: Request) -> JSONResponse:
    actor = await require_user(request)
    body = await json_object(request)
    db = request.app.state.control.db
    await run_in_threadpool(service.create_user, db, actor, body.get("email"), body.get("password"))
    return JSONResponse({"message": "User created successfully"})


async def delete_user(request: Request) -> JSONResponse:
    actor = await require_user(request)
    service.delete_user(request.app.state.control.db, actor, request.path_params["user_id"])
    return JSONResponse({"message": "User deleted successfully"})


routes = [
    Route("/users", list_users, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{user_id}", delete_user, methods=["DELETE"]),
]
