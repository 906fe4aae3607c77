"""The OpenAPI document is served, describes every route the app has, and tells the truth."""

import re

from starlette.testclient import TestClient

from junjo.server.openapi import iter_routes, openapi_path


def test_every_route_is_documented(client: TestClient, app):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    undocumented = []
    for route in iter_routes(app.routes):
        if not route.include_in_schema:  # the web UI's files and app shell
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


def _concrete(path: str) -> str:
    return path.replace("{", "x").replace("}", "")


def _templates_matching(document: dict, concrete: str) -> list[str]:
    def regex(template: str) -> str:
        return "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"

    return [path for path in document["paths"] if re.match(regex(path), concrete)]


def test_405_allow_names_every_method_of_the_path(client: TestClient):
    """Starlette answers 405 from the first route that matched: ``PUT /api_keys`` said
    ``Allow: GET, HEAD`` although POST is there too."""
    document = client.get("/openapi.json").json()
    for path in document["paths"]:
        concrete = _concrete(path)
        expected = set()
        for template in _templates_matching(document, concrete):
            expected |= {method.upper() for method in document["paths"][template]}
        if "GET" in expected:
            expected.add("HEAD")
        response = client.request("PATCH", concrete)
        assert response.status_code == 405, path
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == expected, path


def test_json_body_errors_are_documented_and_answered(signed_in: TestClient):
    """400 (malformed JSON), 413 and 422 (not an object) are in every JSON-body operation."""
    document = signed_in.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if list(content) != ["application/json"]:
                continue
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
            url = _concrete(path)
            malformed = signed_in.request(method.upper(), url, content=b"{not json")
            assert malformed.status_code == 400, (path, malformed.text)
            not_object = signed_in.request(method.upper(), url, content=b"[]")
            assert not_object.status_code in (400, 422), (path, not_object.text)
            # JSON may spell a lone surrogate; no UTF-8 store can take it (was a 500).
            surrogate = b'{"email": "a\\ud800@example.com", "name": "k\\ud800"}'
            lone = signed_in.request(method.upper(), url, content=surrogate)
            assert lone.status_code == 400, (path, lone.text)


def test_id_path_parameters_have_the_patterns_the_routes_check(client: TestClient):
    document = client.get("/openapi.json").json()
    expected = {"trace_id": "^[0-9a-f]{32}$", "span_id": "^[0-9a-f]{16}$"}
    found = 0
    for item in document["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["name"] in expected:
                    assert param["schema"]["pattern"] == expected[param["name"]]
                    assert "422" in operation["responses"]
                    found += 1
    # trace, trace spans, one span (2), workflow (2), outline, span detail (2), matches, otlp,
    # and the workflow run's view, change and state (2 each)
    assert found == 17


def test_otlp_errors_are_documented_as_google_rpc_status(client: TestClient):
    document = client.get("/openapi.json").json()
    for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        operation = document["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {
            "application/x-protobuf",
            "application/json",
        }
        for status, response in operation["responses"].items():
            content = response["content"]
            assert set(content) == {"application/x-protobuf", "application/json"}, status
            if int(status) >= 400:
                json_schema = content["application/json"]["schema"]
                assert json_schema["required"] == ["code", "message"], (path, status)
                assert (
                    "google.rpc.Status"
                    in content["application/x-protobuf"]["schema"]["description"]
                )
        assert {"401", "403", "413"} <= set(operation["responses"])
