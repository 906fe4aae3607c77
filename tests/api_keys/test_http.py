"""The API-key HTTP contract, through the real app and a real SQLite file."""

from starlette.testclient import TestClient


def test_api_key_lifecycle(signed_in: TestClient):
    created = signed_in.post("/api_keys", json={"name": "prod app"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"id", "key", "name", "created_at", "scope", "prefix", "last_used_at"}
    assert len(body["key"]) == 64 and len(body["id"]) == 21
    listed = signed_in.get("/api_keys").json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and body["key"] not in signed_in.get("/api_keys").text
    assert signed_in.post("/api_keys", json={"name": "  "}).status_code == 422
    assert signed_in.post("/api_keys", json={"name": "x", "scope": "root"}).status_code == 422
    deleted = signed_in.delete(f"/api_keys/{body['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    missing = signed_in.delete(f"/api_keys/{body['id']}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "API key not found"}


def test_api_keys_cannot_manage_users_or_keys(signed_in: TestClient):
    read_key = signed_in.post("/api_keys", json={"name": "ci", "scope": "read"}).json()["key"]
    signed_in.cookies.clear()
    bearer = {"Authorization": f"Bearer {read_key}"}
    assert signed_in.get("/users", headers=bearer).status_code == 401
    assert signed_in.post("/api_keys", json={"name": "x"}, headers=bearer).status_code == 401
