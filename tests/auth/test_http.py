"""Sign-in, sessions, first-user setup and the sign-in throttle over HTTP, through the real
app and a real SQLite file."""

import contextlib
import time
from types import SimpleNamespace

import itsdangerous.timed
import pytest
from starlette.testclient import TestClient

from junjo.features.auth.identity import SETUP_COOKIE, SetupState
from junjo.features.auth.sessions import COOKIE_NAME
from tests.conftest import PASSWORD, SETUP_TOKEN

PROTECTED = [
    ("GET", "/auth-test"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("DELETE", "/users/some-id"),
    ("GET", "/api_keys"),
    ("POST", "/api_keys"),
    ("DELETE", "/api_keys/some-id"),
]


def first_user(client: TestClient, **overrides):
    body = {"email": "admin@example.com", "password": PASSWORD, "setup_token": SETUP_TOKEN}
    return client.post("/users/create-first-user", json={**body, **overrides})


def test_setup_probe_and_first_user_signs_in(client: TestClient):
    assert client.get("/users/db-has-users").json() == {"users_exist": False}
    response = first_user(client)
    assert response.status_code == 200
    assert response.json() == {"message": "First user created successfully"}
    cookie = response.headers["set-cookie"]
    assert COOKIE_NAME in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/auth-test").json() == {"user_email": "admin@example.com"}
    assert client.get("/users/db-has-users").json() == {"users_exist": True}


def test_first_user_needs_the_setup_token(client: TestClient):
    assert first_user(client, setup_token=None).status_code == 403
    assert first_user(client, setup_token="guess").status_code == 403
    assert client.get("/users/db-has-users").json() == {"users_exist": False}
    via_header = client.post(
        "/users/create-first-user",
        json={"email": "a@example.com", "password": PASSWORD},
        headers={"X-Junjo-Setup-Token": SETUP_TOKEN},
    )
    assert via_header.status_code == 200


def test_first_user_only_once(client: TestClient):
    assert first_user(client).status_code == 200
    again = first_user(client, email="other@example.com")
    assert again.status_code == 400
    assert "already exist" in again.json()["detail"]


def test_first_user_validation(client: TestClient):
    assert first_user(client, password="short").status_code == 422
    assert first_user(client, email="not-an-email").status_code == 422
    malformed = client.post("/users/create-first-user", content=b"{not json")
    assert malformed.status_code == 400
    assert "detail" in malformed.json()


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_need_a_session_before_validation(client: TestClient, method, path):
    response = client.request(method, path, json={"bad": object.__name__})
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "cookie",
    ["", "invalid", "a" * 1000, ";;;;", "<script>alert(1)</script>", "../../../etc/passwd"],
)
def test_malformed_cookies_are_unauthorized(signed_in: TestClient, cookie: str):
    signed_in.cookies.clear()
    signed_in.cookies.set(COOKIE_NAME, cookie)
    response = signed_in.get("/auth-test")
    assert response.status_code == 401


def test_tampered_cookie_is_unauthorized(signed_in: TestClient):
    value = signed_in.cookies[COOKIE_NAME]
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    signed_in.cookies.clear()
    signed_in.cookies.set(COOKIE_NAME, tampered)
    assert signed_in.get("/auth-test").status_code == 401


def test_sign_in_and_bad_credentials(signed_in: TestClient):
    signed_in.cookies.clear()
    wrong = signed_in.post("/sign-in", json={"email": "admin@example.com", "password": "nope1234"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid credentials"}
    unknown = signed_in.post("/sign-in", json={"email": "x@example.com", "password": PASSWORD})
    assert unknown.status_code == 401
    assert signed_in.post("/sign-in", json={"email": 1}).status_code == 422
    ok = signed_in.post("/sign-in", json={"email": "ADMIN@example.com", "password": PASSWORD})
    assert ok.json() == {"message": "signed in"}
    assert signed_in.get("/auth-test").status_code == 200


def test_emails_with_control_characters_are_422_everywhere(client: TestClient):
    nul = "admin\x00@example.com"
    refused = first_user(client, email=nul)
    assert refused.status_code == 422
    assert "control characters" in refused.json()["detail"]
    assert client.get("/users/db-has-users").json() == {"users_exist": False}
    assert first_user(client).status_code == 200
    for email in (nul, "b\x1b[2J@example.com", "admin@example.com\u202e"):
        created = client.post("/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 422, email
        signed = client.post("/sign-in", json={"email": email, "password": PASSWORD})
        assert signed.status_code == 422, email
        assert "control characters" in signed.json()["detail"]
    assert [u["email"] for u in client.get("/users").json()] == ["admin@example.com"]


def test_sign_out_revokes_every_copy_of_the_cookie(signed_in: TestClient):
    stolen = signed_in.cookies[COOKIE_NAME]
    assert signed_in.post("/sign-out").json() == {"message": "signed out"}
    signed_in.cookies.clear()
    signed_in.cookies.set(COOKIE_NAME, stolen)
    assert signed_in.get("/auth-test").status_code == 401


def test_password_change_and_deletion_revoke_sessions(signed_in: TestClient, app):
    from junjo.features.users import service
    from junjo.kernel.principal import Principal

    signed_in.post("/users", json={"email": "b@example.com", "password": PASSWORD})
    other = TestClient(app)
    other.post("/sign-in", json={"email": "b@example.com", "password": PASSWORD})
    assert other.get("/auth-test").status_code == 200
    db = app.state.junjo.control.db
    b = service.find_user(db, Principal.operator(), "b@example.com")
    service.change_password(db, Principal.operator(), b.id, "new-password-1")
    assert other.get("/auth-test").status_code == 401
    other.post("/sign-in", json={"email": "b@example.com", "password": "new-password-1"})
    assert other.get("/auth-test").status_code == 200
    assert signed_in.delete(f"/users/{b.id}").json() == {"message": "User deleted successfully"}
    assert other.get("/auth-test").status_code == 401


def test_sign_in_throttling(signed_in: TestClient):
    signed_in.cookies.clear()
    bad = {"email": "admin@example.com", "password": "wrong-password"}
    codes = [signed_in.post("/sign-in", json=bad).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    blocked = signed_in.post("/sign-in", json={"email": "admin@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_client_throttling_spans_accounts(signed_in: TestClient):
    codes = [
        signed_in.post(
            "/sign-in", json={"email": f"u{i}@example.com", "password": "wrong-password"}
        ).status_code
        for i in range(21)
    ]
    assert codes[-1] == 429 and codes[:20] == [401] * 20


def test_filling_the_throttle_table_keeps_every_lockout(signed_in: TestClient, app):
    """A spray of fresh accounts and addresses once overflowed the table, which was then
    cleared, lifting every lockout with it."""
    from junjo.features.auth.throttle import SignInThrottle
    from junjo.kernel.errors import TooManyAttempts

    signed_in.cookies.clear()
    bad = {"email": "admin@example.com", "password": "wrong-password"}
    assert [signed_in.post("/sign-in", json=bad).status_code for _ in range(6)][-1] == 429
    throttle = app.state.junjo.get(SignInThrottle)
    for n in range(30_000):  # the counting step of as many sign-ins, without the hashing
        with contextlib.suppress(TooManyAttempts):
            throttle.begin(f"spray{n}@example.com", f"10.0.{n >> 8}.{n & 255}")
    right = {"email": "admin@example.com", "password": PASSWORD}
    assert signed_in.post("/sign-in", json=right).status_code == 429


STUDIO_SETUP_FORM = {"email": "admin@example.com", "password": PASSWORD}  # what it sends


def open_setup_link(client: TestClient, token: str = SETUP_TOKEN):
    return client.get("/setup", params={"token": token}, follow_redirects=False)


def test_setup_link_sets_a_short_lived_strict_cookie_and_redirects_home(client: TestClient):
    opened = open_setup_link(client)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{SETUP_COOKIE}=")
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert attributes == {"HttpOnly", "Max-Age=900", "Path=/", "SameSite=strict"}
    assert SETUP_TOKEN not in cookie  # it carries a signed digest, not the token


def test_the_studio_setup_form_works_after_the_setup_link(client: TestClient):
    """Junjo AI Studio's setup form sends only {email, password}: the cookie is the proof."""
    assert client.post("/users/create-first-user", json=STUDIO_SETUP_FORM).status_code == 403
    open_setup_link(client)
    created = client.post("/users/create-first-user", json=STUDIO_SETUP_FORM)
    assert created.status_code == 200
    assert created.json() == {"message": "First user created successfully"}
    assert client.cookies.get(COOKIE_NAME) and SETUP_COOKIE not in client.cookies
    assert client.get("/auth-test").json() == {"user_email": "admin@example.com"}
    # The link is spent: it leads on to sign-in and sets nothing.
    again = open_setup_link(client)
    assert again.status_code == 303 and "set-cookie" not in again.headers


def test_setup_link_over_https_sets_a_secure_cookie(app):
    with TestClient(app, base_url="https://testserver") as secure:
        assert "Secure" in open_setup_link(secure).headers["set-cookie"]


def test_a_wrong_link_forged_or_expired_cookie_is_refused(client: TestClient, monkeypatch):
    wrong = open_setup_link(client, "guess")
    assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    client.cookies.set(SETUP_COOKIE, "forged.value.sig")
    assert client.post("/users/create-first-user", json=STUDIO_SETUP_FORM).status_code == 403
    setup = client.app.state.junjo.get(SetupState)
    sixteen_minutes_ago = time.time() - 16 * 60
    monkeypatch.setattr(
        itsdangerous.timed, "time", SimpleNamespace(time=lambda: sixteen_minutes_ago)
    )
    stale = setup.cookie()
    monkeypatch.undo()
    client.cookies.set(SETUP_COOKIE, stale)
    assert client.post("/users/create-first-user", json=STUDIO_SETUP_FORM).status_code == 403
    client.cookies.set(SETUP_COOKIE, setup.cookie())  # the same, fresh: accepted
    assert client.post("/users/create-first-user", json=STUDIO_SETUP_FORM).status_code == 200
