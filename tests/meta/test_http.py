"""The public endpoints: health and the UI's config."""

from starlette.testclient import TestClient


def test_health_and_config_are_public(client: TestClient):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["version"]
    config = client.get("/api/config").json()
    assert config["otlp_endpoint"] == f"grpc://testserver:{client.app.state.junjo.grpc_port}"
    assert config["otlp_http_endpoint"] == "http://testserver/v1/traces"
    assert client.get("/api/nope").status_code == 404
