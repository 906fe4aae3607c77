"""POST /users/me/password: a signed-in user changes their own password, through the real
app and a real SQLite file. The current password proves it is them and a wrong one counts
as a failed sign-in; the change ends their other sessions and renews this one's cookie."""

import pytest
from starlette.testclient import TestClient

from junjo.features.auth.sessions import COOKIE_NAME
from junjo.features.users import service
from junjo.kernel.errors import BadRequest, InvalidInput, PermissionDenied
from junjo.kernel.principal import Principal
from tests.conftest import LOCAL_TOKEN, PASSWORD

NEW_PASSWORD = "a brand new passphrase"
PATH = "/users/me/password"


def change(client: TestClient, current: object = PASSWORD, new: object = NEW_PASSWORD):
    return client.post(PATH, json={"current_password": current, "new_password": new})


def sign_in(client: TestClient, password: str) -> int:
    body = {"email": "admin@example.com", "password": password}
    return client.post("/sign-in", json=body).status_code


def test_the_change_ends_other_sessions_and_renews_this_one(signed_in: TestClient, app):
    other = TestClient(app)
    assert sign_in(other, PASSWORD) == 200
    before = signed_in.cookies[COOKIE_NAME]
    response = change(signed_in)
    assert response.status_code == 200, response.text
    assert "other sessions" in response.json()["message"]
    assert signed_in.cookies[COOKIE_NAME] != before
    assert signed_in.get("/auth-test").json() == {"user_email": "admin@example.com"}
    assert other.get("/auth-test").status_code == 401  # the other browser is signed out
    signed_in.cookies.clear()
    signed_in.cookies.set(COOKIE_NAME, before)  # and so is a copy of the old cookie
    assert signed_in.get("/auth-test").status_code == 401
    assert sign_in(other, PASSWORD) == 401
    assert sign_in(other, NEW_PASSWORD) == 200


def test_a_wrong_current_password_is_403_and_changes_nothing(signed_in: TestClient):
    response = change(signed_in, current="not my password")
    assert response.status_code == 403
    assert response.json() == {"detail": "The current password is not correct"}
    assert signed_in.get("/auth-test").status_code == 200  # still signed in
    signed_in.cookies.clear()
    assert sign_in(signed_in, PASSWORD) == 200


@pytest.mark.parametrize(
    ("new", "detail"),
    [
        ("short", "password: must be at least 8 characters"),
        (12345678, "password: must be a string"),
        ("x" * 1025, "password: must be at most 1024 characters"),
        (PASSWORD, "new_password: must differ from the current password"),
    ],
)
def test_an_invalid_new_password_is_422_with_the_rule(signed_in: TestClient, new, detail):
    response = change(signed_in, new=new)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_invalid_input_does_not_count_as_a_failed_sign_in(signed_in: TestClient):
    for _ in range(8):
        assert change(signed_in, new="short").status_code == 422
    assert change(signed_in).status_code == 200


def test_wrong_current_passwords_count_in_the_sign_in_throttle(signed_in: TestClient):
    codes = [change(signed_in, current=f"guess-{n}-wrong").status_code for n in range(6)]
    assert codes == [403] * 5 + [429]
    refused = change(signed_in)  # the right one too, until the window passes
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    signed_in.cookies.clear()  # and signing in from this client: the same count
    assert sign_in(signed_in, PASSWORD) == 429


def test_it_needs_a_session(client: TestClient, signed_in: TestClient):
    signed_in.cookies.clear()
    assert change(signed_in).status_code == 401
    operator = signed_in.post(
        PATH,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"Authorization": f"Bearer {LOCAL_TOKEN}"},
    )
    assert operator.status_code == 400  # the local operator has no password
    assert "junjo user passwd" in operator.json()["detail"]


def test_it_is_in_the_openapi_document(client: TestClient):
    operation = client.get("/openapi.json").json()["paths"][PATH]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["current_password", "new_password"]
    assert {"200", "403", "422", "429"} <= set(operation["responses"])


def test_the_service_checks_the_actor_and_the_rules(control):
    user = service.create_user(control.db, Principal.operator(), "a@example.com", "password-1")
    actor = Principal("user", user.id, user.email)
    with pytest.raises(BadRequest):
        service.change_own_password(control.db, Principal.operator(), "password-1", "password-2")
    with pytest.raises(InvalidInput, match="at least 8"):
        service.change_own_password(control.db, actor, "wrong", "short")
    with pytest.raises(PermissionDenied):
        service.change_own_password(control.db, actor, "wrong-one", "password-2")
    changed = service.change_own_password(control.db, actor, "password-1", "password-2")
    assert changed.session_revision == user.session_revision + 1
    assert service.check_credentials(control.db, "a@example.com", "password-2") == changed
    assert service.check_credentials(control.db, "a@example.com", "password-1") is None
