"""HTTP adapter for first-user setup, sign-in and sign-out (Junjo AI Studio's paths)."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from junjo.features import users
from junjo.features.auth.identity import (
    SETUP_COOKIE,
    SETUP_COOKIE_MAX_AGE_S,
    SetupState,
    session_principal,
)
from junjo.features.auth.sessions import COOKIE_NAME, SessionClaim, SessionSigner
from junjo.features.auth.throttle import SignInThrottle
from junjo.features.users import CREDENTIALS
from junjo.kernel.errors import BadRequest, Busy, InvalidInput, PermissionDenied, Unauthenticated
from junjo.kernel.state import state_of
from junjo.server.endpoint import ERROR_SCHEMA, MESSAGE, STRING, endpoint, principal_of
from junjo.server.http_utils import client_address, control_call, json_object

SETUP_TOKEN_HEADER = "x-junjo-setup-token"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """Our cookies: whole site, HttpOnly, SameSite=Strict, Secure over https (or as set)."""
    secure = state_of(request).settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=secure, samesite="strict"
    )


def _signed_in(request: Request, user: users.User, message: str) -> JSONResponse:
    response = JSONResponse({"message": message})
    state = state_of(request)
    claim = SessionClaim(user.id, user.session_revision)
    cookie = state.get(SessionSigner).sign(claim)
    _set_cookie(request, response, COOKIE_NAME, cookie, state.settings.session_max_age_seconds)
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
    "The setup URL `junjo serve` prints: sets the setup cookie (15 minutes) and redirects to /,"
    " where a setup form that sends only {email, password} then works",
    auth="setup_token",
    tag="auth",
    query={"token": STRING},
    responses={303: None, 403: ERROR_SCHEMA},
)
async def setup_link(request: Request) -> Response:
    setup = state_of(request).get(SetupState)
    response = RedirectResponse("/", status_code=303)
    if setup.token is None:
        return response  # set up already (or by `junjo user add`): on to sign-in
    if not setup.accepts(request.query_params.get("token")):
        raise PermissionDenied(
            "This setup link is not valid: use the one `junjo serve` printed at startup"
        )
    _set_cookie(request, response, SETUP_COOKIE, setup.cookie(), SETUP_COOKIE_MAX_AGE_S)
    return response


@endpoint(
    "Create the first user with the setup token (in the body, the x-junjo-setup-token"
    " header, or the setup cookie that /setup sets); signs them in",
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
    offered = body.get("setup_token") or request.headers.get(SETUP_TOKEN_HEADER)
    if not (setup.accepts(offered) or setup.accepts_cookie(request.cookies.get(SETUP_COOKIE))):
        raise PermissionDenied(
            "A valid setup token is required: open the setup link `junjo serve` printed at"
            " startup, or send the token it printed (or create the user with `junjo user add`)"
        )
    user = await control_call(
        request, users.create_first_user, body.get("email"), body.get("password")
    )
    setup.token = None
    response = _signed_in(request, user, "First user created successfully")
    if SETUP_COOKIE in request.cookies:  # spent with the token: the browser may drop it
        response.delete_cookie(SETUP_COOKIE, path="/", httponly=True, samesite="strict")
    return response


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


@endpoint(
    "Change your own password (the current one proves it is you; a wrong one counts as a"
    " failed sign-in). Your other sessions end; this one gets a fresh cookie",
    auth="session",
    tag="auth",
    body={
        "type": "object",
        "properties": {
            "current_password": STRING,
            "new_password": CREDENTIALS["properties"]["password"],
        },
        "required": ["current_password", "new_password"],
    },
    responses={
        200: MESSAGE,
        400: ERROR_SCHEMA,
        403: ERROR_SCHEMA,
        409: ERROR_SCHEMA,
        422: ERROR_SCHEMA,
        429: ERROR_SCHEMA,
        503: ERROR_SCHEMA,
    },
)
async def change_own_password(request: Request) -> JSONResponse:
    actor = principal_of(request)
    body = await json_object(request)
    throttle = state_of(request).get(SignInThrottle)
    # Counted under the account's email (stored normalized), as its sign-ins are.
    attempt = throttle.begin(actor.label, client_address(request))
    if attempt.delay:
        await asyncio.sleep(attempt.delay)
    try:
        user = await control_call(
            request,
            users.change_own_password,
            actor,
            body.get("current_password"),
            body.get("new_password"),
        )
    except PermissionDenied:
        raise  # a wrong current password: a failed attempt, counted
    except Exception:
        throttle.abandoned(attempt)  # never checked (invalid input, busy, not a user)
        raise
    throttle.succeeded(attempt)
    return _signed_in(request, user, "Password changed; your other sessions have ended")


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


@endpoint(
    "Who this browser is signed in as, and whether first-user setup is pending; never 401"
    " (the web UI asks it first, and a 401 would be a console error)",
    auth="public",
    tag="auth",
    responses={
        200: {
            "type": "object",
            "properties": {
                "signed_in": {"type": "boolean"},
                "user_email": {"type": ["string", "null"]},
                "users_exist": {"type": "boolean"},
                "setup_link_opened": {"type": "boolean", "description": "setup cookie valid"},
            },
        }
    },
)
async def session_status(request: Request) -> JSONResponse:
    state = state_of(request)
    found = await run_in_threadpool(state.identify, request)
    email = found.label if found is not None and found.kind == "user" else None
    setup = state.get(SetupState)
    return JSONResponse(
        {
            "signed_in": email is not None,
            "user_email": email,
            "users_exist": await control_call(request, users.has_users),
            "setup_link_opened": setup.accepts_cookie(request.cookies.get(SETUP_COOKIE)),
        }
    )


routes = [
    Route("/api/v1/session", session_status, methods=["GET"]),
    Route("/setup", setup_link, methods=["GET"]),
    Route("/users/db-has-users", db_has_users, methods=["GET"]),
    Route("/users/create-first-user", create_first_user, methods=["POST"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    Route("/users/me/password", change_own_password, methods=["POST"]),
    Route("/auth-test", auth_test, methods=["GET"]),
]
