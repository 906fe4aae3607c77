"""`junjo serve` as systemd runs it (scripts/junjo.service): JSON logs only, READY=1 on
$NOTIFY_SOCKET once spans are accepted, SIGHUP a logged no-op, SIGTERM a clean exit 0."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from junjo.cli import plain_serve_flags
from tests.support.server import REPO, ServerProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
UNIT = REPO / "scripts" / "junjo.service"


def test_json_logs_are_json_from_the_first_line_to_the_last(tmp_path: Path):
    with ServerProcess(tmp_path / "data", "--log-format", "json") as server:
        assert httpx.get(server.url + "/health").status_code == 200
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.output if line.strip()]
    ready = next(entry for entry in lines if entry["message"].endswith(" ready"))
    assert ready["web_ui"] == server.url + "/"
    assert ready["otlp_grpc"] == server.grpc_target
    assert any("Setup token:" in line for line in ready["banner"])
    assert lines[-1]["message"] == "stopped"


def test_sighup_is_logged_and_the_server_keeps_serving(tmp_path: Path):
    with ServerProcess(tmp_path / "data") as server:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: nothing to reload" in server.log, timeout=10)
        assert server.proc.poll() is None
        assert httpx.get(server.url + "/health").status_code == 200
        assert server.stop(signal.SIGTERM) == 0
    assert "stopped" in server.log


def test_ready_is_sent_to_the_notify_socket_once_spans_are_accepted(tmp_path: Path):
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(address)
        notify.settimeout(30)
        server = ServerProcess(tmp_path / "data", env={"NOTIFY_SOCKET": address})
        with server:
            assert notify.recv(64) == b"READY=1"
            # By then the ingestion doors are open: an (unauthenticated) export is answered.
            response = httpx.post(server.url + "/v1/traces", content=b"")
            assert response.status_code == 401
            server.stop()
        assert notify.recv(64) == b"STOPPING=1"


def unit_settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_runs_a_plain_serve_with_a_private_state_dir_and_hardening():
    unit = unit_settings()
    command = shlex.split(unit["ExecStart"][0])
    assert command[1] == "serve" and plain_serve_flags(command[1:]) is not None
    assert command[command.index("--data-dir") + 1] == "/var/lib/junjo"
    assert command[command.index("--log-format") + 1] == "json"
    assert unit["Type"] == ["notify"] and unit["User"] == ["junjo"]
    assert unit["StateDirectory"] == ["junjo"] and unit["StateDirectoryMode"] == ["0700"]
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert unit[option] == ["yes"], option
    assert unit["ProtectSystem"] == ["strict"]
    assert "/var/lib/junjo" in unit["ReadWritePaths"][0]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path):
    junjo = shutil.which("junjo") or str(REPO / ".venv" / "bin" / "junjo")
    unit = tmp_path / "junjo.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/junjo", junjo))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
