"""HTTP adapter for first-user setup, sign-in and sign-out (Junjo AI Studio's paths)."""

from __future__ import annotations

import asyncio
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features.auth.guards import require_user, session_principal
from junjo.features.auth.passwords import MAX_LENGTH, MIN_LENGTH
from junjo.features.auth.sessions import COOKIE_NAME, SessionClaim
from junjo.features.users import service as users
from junjo.kernel.errors import Busy
from junjo.server.http_utils import client_address, control_call, json_object
from junjo.server.openapi import ERROR_SCHEMA, document

STRING = {"type": "string"}
MESSAGE = {"type": "object", "properties": {"message": STRING}, "required": ["message"]}
EMAIL = {"type": "string", "format": "email", "maxLength": 254}
PASSWORD = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
CREDENTIALS = {
    "type": "object",
    "properties": {"email": EMAIL, "password": PASSWORD},
    "required": ["email", "password"],
}

SETUP_TOKEN_HEADER = "x-junjo-setup-token"


def _signed_in(request: Request, user: users.User, message: str) -> JSONResponse:
    response = JSONResponse({"message": message})
    settings = request.app.state.settings
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE_NAME,
        request.app.state.signer.sign(SessionClaim(user.id, user.session_revision)),
        max_age=settings.session_max_age_seconds,
        path="/",
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    return response


@document(
    "Whether any user exists (the UI shows first-user setup when not)",
    auth="public",
    tag="auth",
    responses={200: {"type": "object", "properties": {"users_exist": {"type": "boolean"}}}},
)
async def db_has_users(request: Request) -> JSONResponse:
    return JSONResponse({"users_exist": await control_call(request, users.has_users)})


@document(
    "Create the first user with the setup token; signs them in",
    auth="setup_token",
    tag="auth",
    body=CREDENTIALS | {"properties": {**CREDENTIALS["properties"], "setup_token": STRING}},
    responses={
        200: MESSAGE,
        400: ERROR_SCHEMA,
        403: ERROR_SCHEMA,
        422: ERROR_SCHEMA,
        503: ERROR_SCHEMA,
    },
)
async def create_first_user(request: Request) -> JSONResponse:
    state = request.app.state
    body = await json_object(request)
    if await control_call(request, users.has_users):
        raise HTTPException(400, "Users already exist, cannot create first user")
    offered = body.get("setup_token") or request.headers.get(SETUP_TOKEN_HEADER) or ""
    expected = state.setup.token
    if (
        not expected
        or not isinstance(offered, str)
        or not hmac.compare_digest(offered.encode(), expected.encode())
    ):
        raise HTTPException(
            403,
            "A valid setup token is required: `junjo serve` printed it at startup "
            "(or create the user with `junjo user add`)",
        )
    user = await control_call(
        request, users.create_first_user, body.get("email"), body.get("password")
    )
    state.setup.token = None
    return _signed_in(request, user, "First user created successfully")


@document(
    "Sign in; sets the session cookie",
    auth="public",
    tag="auth",
    body=CREDENTIALS,
    responses={
        200: MESSAGE,
        401: ERROR_SCHEMA,
        422: ERROR_SCHEMA,
        429: ERROR_SCHEMA,
        503: ERROR_SCHEMA,
    },
)
async def sign_in(request: Request) -> JSONResponse:
    state = request.app.state
    body = await json_object(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise HTTPException(422, "email and password are required strings")
    attempt = state.throttle.begin(users.normalize_email(email), client_address(request))
    if attempt.delay:
        await asyncio.sleep(attempt.delay)  # an account under attack: slower, not locked
    try:
        user = await control_call(request, users.check_credentials, email, password)
    except Busy:
        state.throttle.abandoned(attempt)
        raise
    if user is None:
        raise HTTPException(401, "Invalid credentials")
    state.throttle.succeeded(attempt)
    return _signed_in(request, user, "signed in")


@document("Sign out everywhere", auth="public", tag="auth", responses={200: MESSAGE})
async def sign_out(request: Request) -> JSONResponse:
    """Revokes every session of the signed-in user (a stolen copy of the cookie too)."""
    await run_in_threadpool(_revoke_own_sessions, request)
    response = JSONResponse({"message": "signed out"})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def _revoke_own_sessions(request: Request) -> None:
    principal = session_principal(request)
    if principal is not None:
        users.revoke_sessions(request.app.state.control.db, principal.id)


@document(
    "The signed-in user",
    auth="session",
    tag="auth",
    responses={200: {"type": "object", "properties": {"user_email": STRING}}},
)
async def auth_test(request: Request) -> JSONResponse:
    principal = await require_user(request)
    return JSONResponse({"user_email": principal.label})


routes = [
    Route("/users/db-has-users", db_has_users, methods=["GET"]),
    Route("/users/create-first-user", create_first_user, methods=["POST"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    Route("/auth-test", auth_test, methods=["GET"]),
]
