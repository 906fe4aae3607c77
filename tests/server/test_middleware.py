"""The cross-cutting middleware through the real app: security headers on every response,
the Host check and the cross-origin (CSRF) check."""

import contextlib
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from junjo.features.ingest.service import IngestService
from junjo.kernel.state import Launch
from junjo.server.app import create_app
from tests.conftest import PASSWORD, SETUP_TOKEN

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
    " form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def assert_security_headers(response) -> None:
    found = {name: response.headers.get(name) for name in SECURITY_HEADERS}
    assert found == SECURITY_HEADERS, f"{response.request.method} {response.request.url}"


def grpc_port(client: TestClient) -> int:
    """The port the app's gRPC door bound (the tests' settings ask for any free one)."""
    return client.app.state.junjo.grpc_port


@pytest.fixture
def make_client(settings, control):
    """``make_client(base_url, **settings_overrides)``: a TestClient of its own app."""
    with contextlib.ExitStack() as started:

        def make(base_url: str = "http://testserver", **overrides) -> TestClient:
            app = create_app(replace(settings, **overrides), Launch(setup_token=SETUP_TOKEN))
            client = TestClient(app, base_url=base_url, raise_server_exceptions=False)
            return started.enter_context(client)

        yield make


def test_every_kind_of_response_carries_the_security_headers(
    signed_in: TestClient, app, monkeypatch
):
    responses = [
        signed_in.get("/health"),
        signed_in.get("/api/config"),
        signed_in.get("/openapi.json"),
        signed_in.get("/users"),  # authenticated data
        signed_in.post("/sign-in", json={"email": "x@example.com", "password": "wrong-pass"}),
        signed_in.get("/api/no-such-route"),  # 404 (other paths are the web UI's shell)
        signed_in.put("/users"),  # 405
        signed_in.post("/users", content=b"{"),  # 400
        signed_in.post("/api_keys", json={"name": "x"}, headers={"Origin": "https://evil.example"}),
        signed_in.get("/api/config", headers={"Host": "evil.example"}),  # Host refused
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 404, 405, 400, 403, 400]
    for response in responses:
        assert_security_headers(response)
    # An unexpected error is answered outside the middleware stack: it carries them too.
    crashing = TestClient(app, raise_server_exceptions=False)
    crashing.cookies = signed_in.cookies
    monkeypatch.setattr(IngestService, "status", lambda self: 1 / 0)  # a bug, say
    failed = crashing.get("/api/v1/ingest/status")
    assert failed.status_code == 500
    assert_security_headers(failed)


def test_a_host_that_is_not_ours_is_refused(client: TestClient):
    """Today ``Host: evil.example`` makes /api/config hand out evil.example endpoints."""
    refused = client.get("/api/config", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert "allowed_hosts" in refused.json()["detail"]
    for host in ("evil.example:26154", "testserver.evil.example", "[::2]", "a b", ""):
        assert client.get("/users/db-has-users", headers={"Host": host}).status_code == 400, host
    local = client.get("/api/config", headers={"Host": "localhost:26154"}).json()
    assert local["otlp_http_endpoint"] == "http://localhost:26154/v1/traces"
    assert local["otlp_endpoint"] == f"grpc://localhost:{grpc_port(client)}"


def test_a_dns_rebinding_page_cannot_post_as_same_origin(signed_in: TestClient):
    """A page on evil.example re-pointed at this server sends matching Host and Origin."""
    rebound = {"Host": "evil.example", "Origin": "http://evil.example"}
    response = signed_in.post("/api_keys", json={"name": "stolen"}, headers=rebound)
    assert response.status_code == 400
    assert signed_in.get("/api_keys").json() == []


def test_configured_names_and_wildcards_are_allowed(make_client):
    client = make_client(allowed_hosts=("junjo.example.com", "*.corp.example"))
    config = client.get("/api/config", headers={"Host": "junjo.example.com"})
    assert config.status_code == 200
    assert config.json()["backend_url"] == "http://junjo.example.com"
    assert client.get("/api/config", headers={"Host": "JUNJO.example.com."}).status_code == 200
    assert client.get("/api/config", headers={"Host": "a.corp.example:80"}).status_code == 200
    assert client.get("/api/config", headers={"Host": "corp.example"}).status_code == 400
    assert client.get("/api/config", headers={"Host": "evil.example"}).status_code == 400
    anything = make_client(allowed_hosts=("*",))
    assert anything.get("/api/config", headers={"Host": "evil.example"}).status_code == 200


def test_public_url_is_allowed_and_names_the_endpoints(make_client):
    client = make_client(
        "http://127.0.0.1:26154", public_url="https://junjo.example.com", grpc_port=443
    )
    for host in ("junjo.example.com", "127.0.0.1:26154"):
        config = client.get("/api/config", headers={"Host": host}).json()
        assert config["otlp_http_endpoint"] == "https://junjo.example.com/v1/traces"
        assert config["otlp_endpoint"] == "grpc://junjo.example.com:443"
    assert client.get("/api/config", headers={"Host": "evil.example"}).status_code == 400


def test_bound_to_every_interface_the_address_a_client_reached_is_allowed(make_client):
    """With --host 0.0.0.0 and nothing configured, http://192.168.1.5:26154 works (an IP
    literal that no rebinding page can send), a DNS name does not until listed."""
    client = make_client("http://192.168.1.5:26154", host="0.0.0.0")
    config = client.get("/api/config")
    assert config.status_code == 200
    assert config.json()["otlp_endpoint"] == f"grpc://192.168.1.5:{grpc_port(client)}"
    assert client.get("/api/config", headers={"Host": "10.1.1.1:26154"}).status_code == 400
    assert client.get("/api/config", headers={"Host": "junjo.lan:26154"}).status_code == 400
    assert client.get("/api/config", headers={"Host": "localhost:26154"}).status_code == 200
    ipv6 = make_client("http://[fe80::1]:26154", host="::")
    assert ipv6.get("/api/config").json()["otlp_endpoint"] == f"grpc://[fe80::1]:{grpc_port(ipv6)}"


def test_health_answers_any_host(client: TestClient):
    """Probes may use any name that reaches the server (a docker-compose service name)."""
    assert client.get("/health", headers={"Host": "junjo_web:26154"}).status_code == 200


def test_cross_origin_unsafe_requests_are_refused(signed_in: TestClient):
    foreign = signed_in.post(
        "/api_keys", json={"name": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    fetch_meta = signed_in.post(
        "/api_keys", json={"name": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch_meta.status_code == 403
    assert signed_in.get("/api_keys").json() == []
    same = signed_in.post("/api_keys", json={"name": "x"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201


def test_public_url_is_our_origin_behind_a_proxy(make_client):
    """A proxy that rewrites Host must not turn the UI's own requests into 'cross-origin'."""
    client = make_client("http://127.0.0.1:26154", public_url="https://junjo.example.com")
    body = {"email": "a@example.com", "password": PASSWORD, "setup_token": SETUP_TOKEN}
    ours = {"Origin": "https://junjo.example.com"}
    assert client.post("/users/create-first-user", json=body, headers=ours).status_code == 200
    evil = {"Origin": "https://evil.example"}
    assert client.post("/api_keys", json={"name": "x"}, headers=evil).status_code == 403
