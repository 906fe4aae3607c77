"""The OpenAPI document is served and describes every route the app has."""

from starlette.testclient import TestClient

from junjo.server.openapi import iter_routes, openapi_path


def test_every_route_is_documented(client: TestClient, app):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    undocumented = []
    for route in iter_routes(app.routes):
        if route.path == "/":
            continue
        item = document["paths"].get(openapi_path(route), {})
        for method in (route.methods or set()) - {"HEAD"}:
            if method.lower() not in item:
                undocumented.append(f"{method} {route.path}")
    assert undocumented == []


def test_documented_auth_matches_behaviour(client: TestClient):
    """Every operation that declares a session or read key answers 401 without one.
    (The OTLP doors need the ingestion runtime; tests/ingest covers their 401s.)"""
    document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not operation["security"] or {"apiKeyHeader": []} in operation["security"]:
                continue
            concrete = path.replace("{", "x").replace("}", "")
            response = client.request(method.upper(), concrete)
            assert response.status_code == 401, f"{method.upper()} {path}"
