"""HTTP adapter for first-user setup, sign-in and sign-out (Junjo AI Studio's paths)."""

from __future__ import annotations

import asyncio
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from junjo.features import users
from junjo.features.auth.identity import SetupState, session_principal
from junjo.features.auth.sessions import COOKIE_NAME, SessionClaim, SessionSigner
from junjo.features.auth.throttle import SignInThrottle
from junjo.features.users import CREDENTIALS
from junjo.kernel.errors import BadRequest, Busy, InvalidInput, PermissionDenied, Unauthenticated
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, MESSAGE, STRING, endpoint, principal_of
from junjo.server.http_utils import client_address, control_call, json_object

SETUP_TOKEN_HEADER = "x-junjo-setup-token"


def _signed_in(request: Request, user: users.User, message: str) -> JSONResponse:
    response = JSONResponse({"message": message})
    state = state_of(request)
    settings = state.settings
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE_NAME,
        state.get(SessionSigner).sign(SessionClaim(user.id, user.session_revision)),
        max_age=settings.session_max_age_seconds,
        path="/",
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    return response


@endpoint(
    "Whether any user exists (the UI shows first-user setup when not)",
    auth="public",
    tag="auth",
    responses={200: {"type": "object", "properties": {"users_exist": {"type": "boolean"}}}},
)
async def db_has_users(request: Request) -> JSONResponse:
    return JSONResponse({"users_exist": await control_call(request, users.has_users)})


@endpoint(
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
    setup = state_of(request).get(SetupState)
    body = await json_object(request)
    if await control_call(request, users.has_users):
        raise BadRequest("Users already exist, cannot create first user")
    offered = body.get("setup_token") or request.headers.get(SETUP_TOKEN_HEADER) or ""
    expected = setup.token
    if (
        not expected
        or not isinstance(offered, str)
        or not hmac.compare_digest(offered.encode(), expected.encode())
    ):
        raise PermissionDenied(
            "A valid setup token is required: `junjo serve` printed it at startup "
            "(or create the user with `junjo user add`)"
        )
    user = await control_call(
        request, users.create_first_user, body.get("email"), body.get("password")
    )
    setup.token = None
    return _signed_in(request, user, "First user created successfully")


@endpoint(
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
    throttle = state_of(request).get(SignInThrottle)
    body = await json_object(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise InvalidInput("email and password are required strings")
    attempt = throttle.begin(users.normalize_email(email), client_address(request))
    if attempt.delay:
        await asyncio.sleep(attempt.delay)  # an account under attack: slower, not locked
    try:
        user = await control_call(request, users.check_credentials, email, password)
    except Busy:
        throttle.abandoned(attempt)
        raise
    if user is None:
        raise Unauthenticated("Invalid credentials")
    throttle.succeeded(attempt)
    return _signed_in(request, user, "signed in")


@endpoint("Sign out everywhere", auth="public", tag="auth", responses={200: MESSAGE})
async def sign_out(request: Request) -> JSONResponse:
    """Revokes every session of the signed-in user (a stolen copy of the cookie too)."""
    await run_in_threadpool(_revoke_own_sessions, request)
    response = JSONResponse({"message": "signed out"})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def _revoke_own_sessions(request: Request) -> None:
    principal = session_principal(request)
    if principal is not None:
        users.revoke_sessions(state_of(request).control.db, principal.id)


@endpoint(
    "The signed-in user",
    auth="session",
    tag="auth",
    responses={200: {"type": "object", "properties": {"user_email": STRING}}},
)
async def auth_test(request: Request) -> JSONResponse:
    principal = principal_of(request)
    return JSONResponse({"user_email": principal.label})


routes = [
    Route("/users/db-has-users", db_has_users, methods=["GET"]),
    Route("/users/create-first-user", create_first_user, methods=["POST"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    Route("/auth-test", auth_test, methods=["GET"]),
]
