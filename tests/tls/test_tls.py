"""TLS without a proxy: a real ``junjo serve --tls-cert --tls-key`` with a test CA.

The real OTel exporters (gRPC with the CA as root certificates, HTTP with it as
certificate_file) send spans that get indexed; browsers' protections (Secure cookies, HSTS)
are checked over HTTPS; plain HTTP or plain gRPC to the TLS ports fail without hurting the
server; bad TLS files stop ``junjo serve`` with one clear line before it listens.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from junjo.kernel.tls import TlsFileError, check_tls_files
from tests.conftest import PASSWORD
from tests.support.cli import run_cli
from tests.support.export import TRACE_EXPORT, grpc_call, grpc_exporter, http_exporter, sdk_spans
from tests.support.keys import Keys, make_keys
from tests.support.server import ServerProcess, clean_env, free_port, junjo_command
from tests.support.wait import wait_until
from tests.tls.certs import Pki, make_pki, other_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    # Group-readable, as in Debian's ssl-cert group: works, with a warning.
    return make_pki(tmp_path_factory.mktemp("pki"), key_mode=0o640)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls") / "data"


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


@pytest.fixture(scope="module")
def server(pki: Pki, data_dir: Path, keys: Keys) -> Iterator[ServerProcess]:
    tls = ("--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file))
    env = {"JUNJO_HEADER_TIMEOUT_SECONDS": "2"}
    with ServerProcess(data_dir, *tls, tls_ca=pki.ca_file, env=env) as running:
        yield running


def https(server: ServerProcess, pki: Pki) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=server.verify, timeout=10)


def stored_span_names(server: ServerProcess, pki: Pki, keys: Keys, trace_id: str) -> set[str]:
    with https(server, pki) as client:
        response = client.get(
            f"/api/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {keys.read}"}
        )
    if response.status_code != 200:
        return set()
    return {span["name"] for span in response.json()["spans"]}


def test_otel_exporters_send_over_tls_and_the_spans_are_indexed(server, pki, keys, monkeypatch):
    # requests lets these variables override the exporter's certificate_file (a session's
    # verify loses to them: psf/requests#3829); a machine that sets them for its own CAs
    # would otherwise not trust the test CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    over_grpc = sdk_spans(3, service="tls-grpc")
    over_http = sdk_spans(2, service="tls-http")
    grpc_out = grpc_exporter(server.grpc_target, keys.ingest, tls_ca=pki.ca_pem)
    http_out = http_exporter(server.url, keys.ingest, tls_ca_file=str(pki.ca_file))
    try:
        assert grpc_out.export(over_grpc) == SpanExportResult.SUCCESS
        assert http_out.export(over_http) == SpanExportResult.SUCCESS
    finally:
        grpc_out.shutdown()
        http_out.shutdown()
    for spans in (over_grpc, over_http):
        trace_id = f"{spans[0].context.trace_id:032x}"
        names = {span.name for span in spans}
        wait_until(
            lambda trace_id=trace_id, names=names: (
                stored_span_names(server, pki, keys, trace_id) == names
            ),
            timeout=20,
            message=f"trace {trace_id} not indexed",
        )


def test_https_responses_carry_hsts_and_sign_in_sets_a_secure_cookie(server, pki):
    with https(server, pki) as client:
        health = client.get("/health")
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        created = client.post(
            "/users/create-first-user",
            json={
                "email": "admin@example.com",
                "password": PASSWORD,
                "setup_token": server.setup_token,
            },
        )
        assert created.status_code == 200, created.text
        cookie = created.headers["set-cookie"]
        assert "junjo_session=" in cookie and "secure" in cookie.lower()
        assert client.get("/api/v1/services").status_code == 200  # the cookie works
        # Not for localhost: HSTS knows no ports, it would bind every local dev server.
        local = client.get("/health", headers={"Host": f"localhost:{server.port}"})
        assert local.status_code == 200
        assert "strict-transport-security" not in local.headers


def test_api_config_and_the_banner_name_https_endpoints(server, pki):
    with https(server, pki) as client:
        config = client.get("/api/config").json()
    assert config["otlp_endpoint"] == f"https://127.0.0.1:{server.grpc_port}"
    assert config["otlp_http_endpoint"] == f"https://127.0.0.1:{server.port}/v1/traces"
    assert config["frontend_url"] == f"https://127.0.0.1:{server.port}"
    banner = wait_until(lambda: "TLS certificate" in server.log and server.log, timeout=10)
    assert f"Web UI           https://127.0.0.1:{server.port}/" in banner
    assert f"OTLP/gRPC        https://127.0.0.1:{server.grpc_port} (TLS)" in banner
    assert f"OTLP/HTTP        https://127.0.0.1:{server.port}/v1/traces" in banner
    # The key is group-readable (0640): said at start, with the fix.
    assert f"Warning: TLS private key {pki.key_file} is readable by other users" in banner
    assert f"chmod 600 {pki.key_file}" in banner


def test_plain_http_and_plain_grpc_to_the_tls_ports_fail_cleanly(server, pki, keys):
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    # A raw request line, as curl http:// would send: the connection is closed, no answer
    # in plain text (nothing to misread), and the server goes on.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = raw.recv(1024)
        assert b"HTTP/1.1 200" not in reply
    code, _, _ = grpc_call(server.grpc_target, TRACE_EXPORT, b"", keys.ingest, timeout=5)
    assert code == grpc.StatusCode.UNAVAILABLE
    with https(server, pki) as client:
        assert client.get("/health").status_code == 200
    assert "Traceback" not in server.log


def test_a_client_that_never_says_hello_is_cut_off_after_the_header_timeout(server, pki):
    """The TLS handshake counts against header_timeout_seconds (2 here), not asyncio's 60 s."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 10
    with https(server, pki) as client:
        assert client.get("/health").status_code == 200


def test_the_local_cli_reaches_the_tls_server(server, pki, keys, data_dir):
    """`junjo traces` finds the running server in server.json and trusts its certificate
    (pinned), though this machine does not trust the test CA."""
    spans = sdk_spans(2, service="tls-cli")
    exporter = grpc_exporter(server.grpc_target, keys.ingest, tls_ca=pki.ca_pem)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    runtime = json.loads((data_dir / "server.json").read_text())
    assert runtime["http_url"] == f"https://127.0.0.1:{server.port}"

    def listed() -> dict | None:
        result = run_cli(data_dir, "traces", "list", "--service", "tls-cli", "--json")
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        return found if found["traces"] else None

    found = wait_until(listed, timeout=20, message="trace not listed through the server")
    assert found["traces"][0]["trace_id"] == f"{spans[0].context.trace_id:032x}"


# -- bad TLS files: one clear line, exit code 2, nothing bound -------------------------------


def serve_fails(tmp_path: Path, *args: str) -> str:
    """Run `junjo serve ARGS`; it must exit 2 before listening. Returns its stderr."""
    port = free_port()
    done = subprocess.run(
        [
            *junjo_command("serve"),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
            "--grpc-port",
            str(free_port()),
            *args,
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Setup token" not in done.stderr  # nothing was announced
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # and nothing held the port
    return done.stderr


def test_bad_tls_files_stop_junjo_serve_at_start(tmp_path: Path):
    pki = make_pki(tmp_path / "pki")
    cert, key = str(pki.cert_file), str(pki.key_file)
    missing = serve_fails(tmp_path, "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", key)
    assert f"certificate file not found: {tmp_path / 'nope.pem'}" in missing

    mismatched = other_key(tmp_path / "other.pem")
    error = serve_fails(tmp_path, "--tls-cert", cert, "--tls-key", str(mismatched))
    assert f"the private key {mismatched} does not belong to the certificate {cert}" in error

    encrypted = other_key(tmp_path / "encrypted.pem", password=b"secret")
    error = serve_fails(tmp_path, "--tls-cert", cert, "--tls-key", str(encrypted))
    assert "is encrypted with a passphrase" in error

    error = serve_fails(tmp_path, "--tls-cert", key, "--tls-key", key)
    assert "holds no PEM certificate" in error

    error = serve_fails(tmp_path, "--tls-cert", cert)
    assert "give both" in error


def test_an_unreadable_key_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pki = make_pki(tmp_path / "pki")
    if os.geteuid() == 0:
        # Root reads any file, and this machine's Python is not reachable by another user:
        # the same check, in-process, with the read refused as the kernel would refuse it.
        real_read = Path.read_bytes

        def refuse(path: Path) -> bytes:
            if path == pki.key_file:
                raise PermissionError(13, "Permission denied", str(path))
            return real_read(path)

        monkeypatch.setattr(Path, "read_bytes", refuse)
        with pytest.raises(TlsFileError) as raised:
            check_tls_files(pki.cert_file, pki.key_file)
        error = str(raised.value)
    else:
        pki.key_file.chmod(0)
        tls = ("--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file))
        error = serve_fails(tmp_path, *tls)
    who = pwd.getpwuid(os.geteuid()).pw_name
    assert f"cannot read {pki.key_file} as user {who} (permission denied)" in error
