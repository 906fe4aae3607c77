"""The users HTTP contract, through the real app and a real SQLite file."""

from starlette.testclient import TestClient

from tests.conftest import PASSWORD


def test_users_list_never_contains_password_material(signed_in: TestClient):
    signed_in.post("/users", json={"email": "b@example.com", "password": PASSWORD})
    response = signed_in.get("/users")
    assert {u["email"] for u in response.json()} == {"admin@example.com", "b@example.com"}
    assert set(response.json()[0]) == {"id", "email", "is_active", "created_at", "updated_at"}
    assert "password" not in response.text and "argon2" not in response.text


def test_user_create_errors(signed_in: TestClient):
    created = signed_in.post("/users", json={"email": "b@example.com", "password": PASSWORD})
    assert created.json() == {"message": "User created successfully"}
    dup = signed_in.post("/users", json={"email": "B@example.com", "password": PASSWORD})
    assert dup.status_code == 409
    assert signed_in.post("/users", json={"email": "c@example.com"}).status_code == 422
    assert signed_in.delete("/users/unknown").status_code == 404


def test_last_user_cannot_be_deleted_over_http(signed_in: TestClient):
    me = signed_in.get("/users").json()[0]
    response = signed_in.delete(f"/users/{me['id']}")
    assert response.status_code == 409
    assert signed_in.get("/auth-test").status_code == 200


def test_a_user_cannot_delete_themselves_over_http(signed_in: TestClient):
    signed_in.post("/users", json={"email": "b@example.com", "password": PASSWORD})
    me = next(u for u in signed_in.get("/users").json() if u["email"] == "admin@example.com")
    response = signed_in.delete(f"/users/{me['id']}")
    assert response.status_code == 409
    assert "cannot delete yourself" in response.json()["detail"]
    assert len(signed_in.get("/users").json()) == 2
