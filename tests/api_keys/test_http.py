"""The API-key HTTP contract, through the real app and a real SQLite file."""

from starlette.testclient import TestClient


def test_api_key_lifecycle(signed_in: TestClient):
    created = signed_in.post("/api_keys", json={"name": "prod app"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"id", "key", "name", "created_at", "scope", "prefix", "last_used_at"}
    assert len(body["key"]) == 64 and len(body["id"]) == 21
    listed = signed_in.get("/api_keys")
    assert [k["id"] for k in listed.json()] == [body["id"]]
    assert body["key"] not in listed.text
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


def test_listed_keys_carry_the_masked_key_studio_requires(signed_in: TestClient):
    """Junjo AI Studio's key page requires ``key`` on every listed key (it shows only
    "Error:" without it): the listing gives the prefix and "...", never the key."""
    created = signed_in.post("/api_keys", json={"name": "studio"}).json()
    (listed,) = signed_in.get("/api_keys").json()
    assert listed == {
        "id": created["id"],
        "name": "studio",
        "key": created["key"][:8] + "...",
        "prefix": created["key"][:8],
        "scope": "ingest",
        "created_at": created["created_at"],
        "last_used_at": None,
    }
    assert created["prefix"] == listed["prefix"] and len(created["key"]) == 64
