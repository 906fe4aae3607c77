"""Who is calling: the session cookie.

``lifespan`` registers it with the app's door (``AppState.identify_by``), which the
``@endpoint`` guard asks after the local operator's token (the kernel's); API keys are
the api_keys feature's resolver.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.requests import Request

from junjo.config import session_secret
from junjo.features.auth.sessions import COOKIE_NAME, SessionSigner
from junjo.features.auth.throttle import SignInThrottle
from junjo.features.users import get_user, has_users
from junjo.kernel.principal import Principal
from junjo.kernel.state import AppState, state_of


@dataclass
class SetupState:
    """The one-time token that guards web setup of the first user (None once used)."""

    token: str | None


@contextlib.contextmanager
def lifespan(state: AppState) -> Iterator[None]:
    settings = state.settings
    state.provide(SessionSigner(session_secret(settings), settings.session_max_age_seconds))
    state.provide(
        SignInThrottle(
            settings.signin_max_failures_per_account,
            settings.signin_max_failures_per_client,
            settings.signin_failure_window_seconds,
            settings.signin_max_delay_seconds,
        )
    )
    token = None
    if not has_users(state.control.db):
        token = state.launch.setup_token or secrets.token_urlsafe(24)
        state.notices += _setup_notice(token, state.launch.http_url)
    state.provide(SetupState(token))
    state.identify_by(session_principal)
    yield


def session_principal(request: Request) -> Principal | None:
    """The signed-in user, if the cookie is valid and still matches the user's revision."""
    state = state_of(request)
    claim = state.get(SessionSigner).read(request.cookies.get(COOKIE_NAME))
    if claim is None:
        return None
    user = get_user(state.control.db, claim.user_id)
    if user is None or not user.is_active or user.session_revision != claim.revision:
        return None
    return Principal("user", user.id, user.email)


def _setup_notice(token: str, http_url: str) -> list[str]:
    body = {"email": "you@example.com", "password": "...", "setup_token": token}
    return [
        "No users yet. Create the first one on this machine:",
        "  junjo user add you@example.com",
        "or over HTTP: POST /users/create-first-user with the setup token:",
        f"  curl -X POST {http_url}/users/create-first-user \\",
        "    -H 'Content-Type: application/json' \\",
        f"    -d '{json.dumps(body)}'",
        f"Setup token: {token}",
    ]
