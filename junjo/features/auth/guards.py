"""The door check: who is calling? Called first in every protected handler, so an
unauthenticated request gets 401 before any validation error (422) can leak shape."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from junjo.features.auth.sessions import COOKIE_NAME
from junjo.features.users.service import get_user
from junjo.kernel.principal import Principal


def session_principal(request: Request) -> Principal | None:
    """The signed-in user, if the cookie is valid and still matches the user's revision."""
    state = request.app.state
    claim = state.signer.read(request.cookies.get(COOKIE_NAME))
    if claim is None:
        return None
    user = get_user(state.control.db, claim.user_id)
    if user is None or not user.is_active or user.session_revision != claim.revision:
        return None
    return Principal("user", user.id, user.email)


def bearer_principal(request: Request) -> Principal | None:
    """A read-scope API key, an ingest key (which may read nothing), or the local token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    local_token = getattr(request.app.state, "local_token", None)
    if local_token and hmac.compare_digest(token.encode(), local_token.encode()):
        return Principal.operator()
    key = request.app.state.key_verifier.verify(token)
    if key is None:
        return None
    return Principal("api_key", key.id, key.name, scope=key.scope)


def identify(request: Request) -> Principal | None:
    """Session first, then a bearer credential. Touches SQLite: call it off the loop."""
    return session_principal(request) or bearer_principal(request)


async def require_principal(request: Request, *, allow_read_key: bool = True) -> Principal:
    principal = await run_in_threadpool(identify, request)
    if principal is not None and principal.kind == "api_key" and not allow_read_key:
        principal = None
    if principal is None:
        raise HTTPException(401, "Unauthorized: no valid session")
    if principal.kind == "api_key" and not principal.can_read:
        raise HTTPException(403, "This API key may only send telemetry")
    request.state.principal = principal
    return principal


async def require_user(request: Request) -> Principal:
    """A person (or the local operator) — never an API key."""
    return await require_principal(request, allow_read_key=False)
