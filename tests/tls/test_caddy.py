"""The README's reverse-proxy way, as written: its Caddyfile and junjo.toml lines, run with a
real Caddy (``tls internal`` instead of a public certificate) in front of a real
``junjo serve``. Skipped where Caddy is not installed (``apt-get install caddy``)."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.conftest import PASSWORD
from tests.support.export import grpc_exporter, http_exporter, sdk_spans
from tests.support.keys import Keys, make_keys
from tests.support.server import REPO, ServerProcess, free_port
from tests.support.wait import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed"),
]


def readme_block(opening: str) -> str:
    """The README's fenced block that starts with ``opening``."""
    readme = (REPO / "README.md").read_text()
    match = re.search(rf"```[a-z]*\n({re.escape(opening)}.*?)```", readme, re.DOTALL)
    assert match, f"no block starting {opening!r} in README.md"
    return match.group(1)


class Proxy:
    def __init__(self, folder: Path, caddyfile: str, port: int) -> None:
        self.port = port
        path = folder / "Caddyfile"
        path.write_text(caddyfile)
        self.root_ca = folder / "caddy/pki/authorities/local/root.crt"
        env = {"HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
        self.log = folder / "caddy.log"
        with self.log.open("w") as log:  # a file, not a pipe nobody reads: caddy logs a lot
            self.proc = subprocess.Popen(
                ["caddy", "run", "--config", str(path), "--adapter", "caddyfile"],
                env={"PATH": "/usr/bin:/bin", **env},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_until(self.ready, timeout=30, interval=0.1, message="caddy did not start")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"caddy exited: {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        if not self.root_ca.exists():
            return False
        try:
            return httpx.get(self.url + "/health", verify=self.verify(), timeout=2).is_success
        except httpx.HTTPError:
            return False

    def verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.root_ca)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def proxied(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, Proxy, Keys]]:
    folder = tmp_path_factory.mktemp("caddy")
    keys = make_keys(folder / "data")
    proxy_port = free_port()
    proxy_url = f"https://127.0.0.1:{proxy_port}"
    config = folder / "junjo.toml"
    toml = readme_block('public_url = "https://junjo.example.com"')
    config.write_text(toml.replace("https://junjo.example.com", proxy_url))
    server = ServerProcess(folder / "data", "--config", str(config))
    # Caddy's own CA instead of a public certificate, and no admin port or trust-store edits.
    site = readme_block("junjo.example.com {")
    site = site.replace("junjo.example.com {", f"{proxy_url} {{\n\ttls internal", 1)
    site = site.replace("127.0.0.1:26155", f"127.0.0.1:{server.grpc_port}")
    site = site.replace("127.0.0.1:26154", f"127.0.0.1:{server.port}")
    caddyfile = "{\n\tadmin off\n\tskip_install_trust\n}\n" + site
    with server:
        proxy = Proxy(folder, caddyfile, proxy_port)
        try:
            yield server, proxy, keys
        finally:
            proxy.stop()


def test_exporters_reach_junjo_through_caddy_on_one_port(proxied, monkeypatch):
    _, proxy, keys = proxied
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)  # see tests/tls/test_tls.py
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    over_grpc, over_http = sdk_spans(3, service="caddy-grpc"), sdk_spans(2, service="caddy-http")
    target = f"127.0.0.1:{proxy.port}"
    grpc_out = grpc_exporter(target, keys.ingest, tls_ca=proxy.root_ca.read_bytes())
    http_out = http_exporter(proxy.url, keys.ingest, tls_ca_file=str(proxy.root_ca))
    try:
        assert grpc_out.export(over_grpc) == SpanExportResult.SUCCESS
        assert http_out.export(over_http) == SpanExportResult.SUCCESS
    finally:
        grpc_out.shutdown()
        http_out.shutdown()
    with httpx.Client(base_url=proxy.url, verify=proxy.verify(), timeout=10) as client:
        for spans in (over_grpc, over_http):
            trace_id = f"{spans[0].context.trace_id:032x}"

            def stored(trace_id: str = trace_id) -> bool:
                response = client.get(
                    f"/api/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {keys.read}"}
                )
                return response.status_code == 200

            wait_until(stored, timeout=20, message=f"trace {trace_id} not indexed")


def test_behind_caddy_cookies_are_secure_and_hsts_is_sent(proxied):
    server, proxy, _ = proxied
    with httpx.Client(base_url=proxy.url, verify=proxy.verify(), timeout=10) as client:
        created = client.post(
            "/users/create-first-user",
            json={
                "email": "admin@example.com",
                "password": PASSWORD,
                "setup_token": server.setup_token,
            },
        )
        assert created.status_code == 200, created.text
        assert "secure" in created.headers["set-cookie"].lower()
        assert created.headers["strict-transport-security"] == "max-age=31536000"
        config = client.get("/api/config").json()
    assert config["otlp_http_endpoint"] == f"{proxy.url}/v1/traces"
