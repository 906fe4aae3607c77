"""Who is calling: the session cookie.

``lifespan`` registers it with the app's door (``AppState.identify_by``), which the
``@endpoint`` guard asks after the local operator's token (the kernel's); API keys are
the api_keys feature's resolver.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import shlex
from collections.abc import Iterator
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from junjo.config import default_data_dir, session_secret
from junjo.features.auth.sessions import COOKIE_NAME, SessionSigner
from junjo.features.auth.throttle import SignInThrottle
from junjo.features.users import get_user, has_users
from junjo.kernel.principal import Principal
from junjo.kernel.state import AppState, Launch, state_of

SETUP_COOKIE = "junjo_setup"
SETUP_COOKIE_MAX_AGE_S = 15 * 60


class SetupState:
    """The one-time token that guards web setup of the first user (None once used), and
    the setup cookie: what the printed setup URL (``/setup?token=...``) hands the browser,
    so that a setup form sending only ``{email, password}`` (Junjo AI Studio's) proves the
    token too. The cookie is signed and expires; it holds a digest of the token, not the
    token, and dies with the token when the first user is created."""

    def __init__(self, token: str | None, secret: str) -> None:
        self.token = token
        self._cookies = URLSafeTimedSerializer(secret, salt="junjo.setup.v1")

    def accepts(self, offered: object) -> bool:
        expected = self.token
        return (
            expected is not None
            and isinstance(offered, str)
            and hmac.compare_digest(offered.encode(), expected.encode())
        )

    def cookie(self) -> str:
        """A setup cookie for the current token (call only while there is one)."""
        assert self.token is not None
        return self._cookies.dumps(_digest(self.token))

    def accepts_cookie(self, cookie: str | None) -> bool:
        expected = self.token
        if expected is None or not cookie or len(cookie) > 512:
            return False
        try:
            value = self._cookies.loads(cookie, max_age=SETUP_COOKIE_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return False
        return isinstance(value, str) and hmac.compare_digest(
            value.encode(), _digest(expected).encode()
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@contextlib.contextmanager
def lifespan(state: AppState) -> Iterator[None]:
    settings = state.settings
    secret = session_secret(settings)
    state.provide(SessionSigner(secret, settings.session_max_age_seconds))
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
        # Behind a proxy, the browser reaches the setup URL by the public name.
        browser_url = state.settings.public_url.rstrip("/") or state.launch.http_url
        state.notices += _setup_notice(token, state.launch, settings.data_dir, browser_url)
    state.provide(SetupState(token, secret))
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


def _setup_notice(token: str, launch: Launch, data_dir: Path, browser_url: str) -> list[str]:
    """The ways to the first user; the commands work pasted into a shell here: this
    server's ``junjo`` as it is typed on this machine (``Launch.command``), and its data
    dir unless a bare command finds it anyway (the default)."""
    body = {"email": "you@example.com", "password": "...", "setup_token": token}
    default = data_dir == default_data_dir()
    where = "" if default else f" --data-dir {shlex.quote(str(data_dir.absolute()))}"
    return [
        "No users yet. Create the first one on this machine:",
        f"  {launch.command} user add{where} you@example.com",
        "or in the browser, with this link (valid 15 min):",
        f"  {browser_url}/setup?token={token}",
        "or over HTTP: POST /users/create-first-user with the setup token:",
        f"  curl -X POST {launch.http_url}/users/create-first-user \\",
        "    -H 'Content-Type: application/json' \\",
        f"    -d '{json.dumps(body)}'",
        f"Setup token: {token}",
    ]
