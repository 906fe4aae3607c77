"""`junjo serve` as a real subprocess on free ports, driven over HTTP and the CLI."""

import json
import os
import signal
import sqlite3
import stat
import subprocess

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.support.server import ServerProcess, junjo_command, run_cli

pytestmark = pytest.mark.slow


def test_first_run_setup_keys_and_clean_shutdown(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    try:
        runtime = data / "server.json"
        assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o600
        assert json.loads(runtime.read_text())["http_url"] == server.url
        assert stat.S_IMODE(os.stat(data / "secret_key").st_mode) == 0o600

        client = httpx.Client(base_url=server.url)
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
    assert "POST /users/create-first-user 200" in log
    assert "GET /api_keys 200" in log
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
    data = tmp_path / "data"
    run_cli(data, "migrate")
    conn = sqlite3.connect(data / "junjo.db")
    conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01T00:00:00Z')")
    conn.commit()
    result = subprocess.run(
        junjo_command("serve", "--data-dir", str(data), "--port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "newer junjo" in result.stderr and "Traceback" not in result.stderr
