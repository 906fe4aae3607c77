"""`junjo serve` as a real subprocess on free ports, driven over HTTP and the CLI."""

import contextlib
import json
import os
import re
import signal
import stat
import subprocess

import httpx
import pytest

from junjo.features.users.passwords import TEST_CHEAP_HASH_ENV
from tests.conftest import PASSWORD
from tests.support.cli import run_cli
from tests.support.files import assert_private, file_modes, newer_data_dir
from tests.support.keys import make_keys
from tests.support.otlp_builders import junjo_workflow_trace, request_payload
from tests.support.proxy import PlainProxy
from tests.support.server import ServerProcess, clean_env, free_port, junjo_command
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


def test_first_run_setup_keys_and_clean_shutdown(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    try:
        runtime = data / "server.json"
        assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o600
        assert json.loads(runtime.read_text())["http_url"] == server.url
        assert stat.S_IMODE(os.stat(data / "secret_key").st_mode) == 0o600

        client = server.client()
        denied = client.post(
            "/users/create-first-user", json={"email": "a@example.com", "password": PASSWORD}
        )
        assert denied.status_code == 403
        created = client.post(
            "/users/create-first-user",
            json={
                "email": "a@example.com",
                "password": PASSWORD,
                "setup_token": server.setup_token,
            },
        )
        assert created.status_code == 200
        assert client.get("/auth-test").json() == {"user_email": "a@example.com"}

        # The CLI writes the same SQLite file while the server runs.
        key = json.loads(run_cli(data, "keys", "create", "from cli", "--json").stdout)
        assert [k["name"] for k in client.get("/api_keys").json()] == ["from cli"]
        added = run_cli(data, "user", "add", "b@example.com", "--password-stdin", stdin=PASSWORD)
        assert added.returncode == 0
        assert len(client.get("/users").json()) == 2
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0
    assert not (data / "server.json").exists()
    log = server.log
    assert f"{TEST_CHEAP_HASH_ENV}=1: password hashes are cheap to crack" in log  # not silent
    assert "POST /users/create-first-user 200" in log
    assert "GET /api_keys 200" in log
    assert "span conversion: native (C extension)" in log  # CI builds the extension
    for secret in (PASSWORD, key["key"], server.setup_token + "\n", "junjo_session="):
        assert secret not in log.split("Setup token:")[-1].split("\n", 1)[-1]


def test_json_logs(tmp_path):
    with ServerProcess(tmp_path / "data", "--log-format", "json") as server:
        httpx.get(server.url + "/health?token=secret-in-query")
    lines = [json.loads(line) for line in server.output if line.startswith("{")]
    request = next(entry for entry in lines if entry.get("http_path") == "/health")
    assert request["http_status"] == 200 and request["level"] == "info"
    assert "secret-in-query" not in server.log


def test_serve_refuses_a_newer_data_dir(tmp_path):
    data = newer_data_dir(tmp_path / "data")
    result = subprocess.run(
        junjo_command("serve", "--data-dir", str(data), "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "newer junjo" in result.stderr and "Traceback" not in result.stderr


def test_a_port_another_server_holds_is_one_error_line_before_any_announcement(tmp_path):
    """No banner, no setup token, no log: the port is checked before anything is said."""
    with ServerProcess(tmp_path / "running") as running:
        taken = {
            ("HTTP", "--port", running.port): ("--grpc-port", free_port()),
            ("OTLP/gRPC", "--grpc-port", running.grpc_port): ("--port", free_port()),
        }
        for (door, option, port), (other_option, other_port) in taken.items():
            second = tmp_path / option
            result = subprocess.run(
                junjo_command(
                    "serve",
                    *("--data-dir", str(second), option, str(port), other_option, str(other_port)),
                ),
                capture_output=True,
                text=True,
                env=clean_env(),
                timeout=60,
            )
            assert result.returncode == 1
            assert result.stderr.splitlines() == [
                f"Error: cannot listen for {door} on 127.0.0.1:{port}: address already in use"
                f" (is another server running? choose another port with {option})"
            ]
            assert "Setup token" not in result.stderr + result.stdout
            assert not (second / "server.json").exists()
        assert running.client().get("/health").status_code == 200


def test_concurrent_requests_over_real_http(tmp_path):
    """The races the anchors lost: first-user setup, user writes, and sign-in bursts."""
    from concurrent.futures import ThreadPoolExecutor

    with ServerProcess(tmp_path / "data") as server:
        url, token = server.url, server.setup_token

        def first_user(i: int) -> int:
            body = {"email": f"u{i}@example.com", "password": PASSWORD, "setup_token": token}
            return httpx.post(f"{url}/users/create-first-user", json=body, timeout=30).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(first_user, range(20)))
        # Exactly one wins; with the real argon2 cost, those past the password gate get 503.
        assert codes.count(200) == 1 and set(codes) <= {200, 400, 503}

        winner = next(f"u{i}@example.com" for i, code in enumerate(codes) if code == 200)
        client = server.client()
        client.post("/sign-in", json={"email": winner, "password": PASSWORD})

        def write(i: int) -> int:
            if i % 3:
                return client.delete(f"/users/missing{i}").status_code
            body = {"email": f"new{i}@example.com", "password": PASSWORD}
            return client.post("/users", json=body).status_code

        # 8 writers: never more hashes at once than the password gate admits (2 + 8 queued).
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(write, range(90)))
        assert codes.count(200) == 30 and codes.count(404) == 60
        assert len(client.get("/users").json()) == 31  # every acknowledged create is there

        def guess(_: int) -> int:
            body = {"email": winner, "password": "wrong-password"}
            return httpx.post(f"{url}/sign-in", json=body, timeout=30).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(guess, range(20)))
        assert codes.count(401) <= 5 and codes.count(429) >= 15


def test_restart_after_kill_9_and_a_stale_runtime_file(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    server.kill()  # SIGKILL: no cleanup, server.json stays behind
    assert (data / "server.json").exists()
    listing = run_cli(data, "traces", "list", "--json")  # not fooled: reads the files
    assert listing.returncode == 0, listing.stderr
    (data / "server.json").write_text(
        json.dumps({"pid": 1, "http_url": "http://127.0.0.1:9", "grpc_port": 9, "token": "x"})
    )
    with ServerProcess(data) as again:  # a reused pid must not block the restart
        assert httpx.get(again.url + "/health").status_code == 200
        second = subprocess.run(
            junjo_command("serve", "--data-dir", str(data), "--port", str(free_port())),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and "another junjo server" in second.stderr


def test_keys_and_passwords_never_reach_the_log(tmp_path):
    data = tmp_path / "data"
    keys = make_keys(data)
    ingest = keys.ingest
    with ServerProcess(data, "--log-level", "debug") as server:
        httpx.post(
            server.url + "/v1/traces",
            content=b"",
            headers={"x-junjo-api-key": ingest, "Content-Type": "application/x-protobuf"},
        )
        httpx.get(server.url + "/api/v1/traces", headers={"Authorization": f"Bearer {keys.read}"})
        httpx.post(server.url + "/sign-in", json={"email": "x@example.com", "password": PASSWORD})
    assert "GET /api/v1/traces 200" in server.log
    for secret in (ingest, keys.read, PASSWORD):
        assert secret not in server.log


def _wait_for_log(server: ServerProcess, text: str, timeout: float = 15) -> None:
    wait_until(
        lambda: text in server.log, timeout, 0.05, lambda: f"{text!r} not logged:\n{server.log}"
    )


def test_text_log_escapes_the_path_and_names_the_client(tmp_path):
    """``%0a`` in a URL arrives percent-decoded in the ASGI path and forged a log line."""
    with ServerProcess(tmp_path / "data") as server:
        httpx.get(server.url + "/x%0a2026-01-01 00:00:00,000 INFO    junjo.http: FORGED%1b[2J")
        httpx.get(server.url + "/health")
        _wait_for_log(server, "GET /health 200")
    lines = server.log.splitlines()
    (forged,) = [line for line in lines if "FORGED" in line]  # one line, not two
    assert "GET /x%0A2026-01-01%2000:00:00,000%20INFO%20%20%20%20junjo.http:%20FORGED%1B" in forged
    assert "\x1b" not in server.log
    health = next(line for line in lines if "GET /health 200" in line)
    assert re.search(r"GET /health 200 [0-9.]+ms 127\.0\.0\.1$", health), health


def test_every_interface_bind_says_which_hosts_it_answers(tmp_path):
    with ServerProcess(tmp_path / "data", "--host", "0.0.0.0") as server:
        assert httpx.get(server.url + "/api/config").status_code == 200
        named = httpx.get(server.url + "/api/config", headers={"Host": "junjo.lan"})
        assert named.status_code == 400
    assert "Allowed hosts    localhost, the address a client connects to" in server.log
    assert "other names get 400 until listed in allowed_hosts" in server.log


def test_every_file_in_an_existing_data_dir_is_private(tmp_path):
    """A data dir made by `mkdir` under the usual umask 022, as a self-hoster would."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    added = run_cli(data, "user", "add", "a@example.com", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    (data / "junjo.db").chmod(0o644)  # as an older junjo left it
    keys = [
        json.loads(run_cli(data, "keys", "create", scope, "--scope", scope, "--json").stdout)
        for scope in ("ingest", "read")
    ]
    server = ServerProcess(data, umask=0o022).start()
    try:
        from tests.support.otlp_builders import new_ids, request_bytes

        exported = httpx.post(
            server.url + "/v1/traces",
            content=request_bytes(new_ids(3)),
            headers={"x-junjo-api-key": keys[0]["key"], "Content-Type": "application/x-protobuf"},
        )
        assert exported.status_code == 200
        wait_until_indexed(server, keys[1]["key"], spans=3)
        client = server.client()
        signed_in = client.post("/sign-in", json={"email": "a@example.com", "password": PASSWORD})
        assert signed_in.status_code == 200
        created = client.post("/users", json={"email": "b@example.com", "password": PASSWORD})
        assert created.status_code == 200
        assert {"junjo.db-wal", "wal.db", "spans.duckdb", "server.json"} <= set(file_modes(data))
        assert_private(data)
    finally:
        assert server.stop() == 0
    assert_private(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o755  # the owner's choice, but named:
    warning = f"data dir {data} is accessible to other users (mode 0755): run chmod 700 {data}"
    assert warning in server.log
    assert server.log.count(warning) == 2  # a log line, and in the banner


def test_a_private_data_dir_gives_no_warning(tmp_path):
    with ServerProcess(tmp_path / "data", umask=0o022) as server:
        pass
    assert "accessible to other users" not in server.log
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert_private(tmp_path / "data")


def wait_until_indexed(server: ServerProcess, read_key: str, spans: int) -> None:
    def indexed() -> bool:
        return server.ingest_status(read_key)["indexed"]["spans"] >= spans

    wait_until(indexed, 30, 0.05, "not indexed")


@contextlib.contextmanager
def _behind_proxy(tmp_path, *, public_url: bool):
    """``junjo serve`` behind a plain proxy that rewrites Host, and a browser-like client of
    the proxy's origin (a page there sends that Origin on its POSTs)."""
    proxy_port = free_port()
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    env = {"JUNJO_PUBLIC_URL": proxy_url} if public_url else {}
    with ServerProcess(tmp_path / "data", env=env) as server:
        proxy = PlainProxy(server.url, port=proxy_port)
        try:
            with httpx.Client(base_url=proxy_url, headers={"Origin": proxy_url}) as browser:
                yield server, proxy, browser
        finally:
            proxy.stop()


def test_the_studio_frontend_flow_through_a_host_rewriting_proxy(tmp_path):
    """What Junjo AI Studio's frontend does, on one origin behind a plain proxy, with
    public_url set: setup link and setup form, API keys page, state step-through, flush."""
    with _behind_proxy(tmp_path, public_url=True) as (server, proxy, browser):
        token = server.setup_token
        assert f"  {proxy.url}/setup?token={token}\n" in server.log  # the link, by its name
        opened = browser.get("/setup", params={"token": token})
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        form = {"email": "a@example.com", "password": PASSWORD}  # all the Studio's form sends
        created = browser.post("/users/create-first-user", json=form)
        assert created.status_code == 200
        assert created.json() == {"message": "First user created successfully"}
        assert browser.get("/auth-test").json() == {"user_email": "a@example.com"}

        key = browser.post("/api_keys", json={"name": "studio"})
        assert key.status_code == 201
        full = key.json()["key"]
        (listed,) = browser.get("/api_keys").json()
        assert listed["key"] == full[:8] + "..." and {"id", "name", "created_at"} <= set(listed)

        spans = junjo_workflow_trace(nodes=2)
        trace_id = spans[0].trace_id.hex()
        exported = browser.post(
            "/v1/traces",
            content=request_payload(spans, service_name="studio-app"),
            headers={"Content-Type": "application/x-protobuf", "x-junjo-api-key": full},
        )
        assert exported.status_code == 200
        flushed = browser.post("/api/admin/flush-wal")
        assert flushed.status_code == 200
        assert flushed.json() == {
            "success": True,
            "message": f"WAL flush completed, {flushed.json()['spans_indexed']} span(s) indexed",
            "spans_indexed": flushed.json()["spans_indexed"],
        }
        found = browser.get(f"/api/v1/observability/traces/{trace_id}/spans").json()
        times = [e["timeUnixNano"] for s in found for e in s["events_json"]]
        assert len(found) == 3 and len(times) == 2
        assert all(type(t) is int for t in times)  # the step-through keeps every set_state


def test_without_public_url_a_host_rewriting_proxy_breaks_the_browsers_posts(tmp_path):
    """The reason public_url exists: the browser's Origin is not the Host junjo sees."""
    with _behind_proxy(tmp_path, public_url=False) as (server, _, browser):
        browser.get("/setup", params={"token": server.setup_token})
        body = {"email": "a@example.com", "password": PASSWORD}
        refused = browser.post("/users/create-first-user", json=body)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Cross-origin request refused"}
