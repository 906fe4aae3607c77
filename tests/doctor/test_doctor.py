"""`junjo doctor`: what it finds in real data dirs, and the exit code a script sees."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from junjo.config import Settings
from junjo.features.doctor.service import check_tls
from junjo.kernel.wal import WriteAheadLog
from tests.support.cli import CliResult, run_cli
from tests.support.keys import make_keys
from tests.support.server import ServerProcess, free_port

NO_PROVIDERS = {
    name: "" for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
}


def doctor(data_dir: Path, *args: str, **env: str) -> CliResult:
    ports = {"JUNJO_PORT": str(free_port()), "JUNJO_GRPC_PORT": str(free_port())}
    return run_cli(data_dir, "doctor", *args, env=NO_PROVIDERS | ports | env)


def checks(result: CliResult) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_a_new_data_dir_is_healthy_and_nothing_is_created(tmp_path: Path):
    data = tmp_path / "data"
    result = doctor(data)
    assert result.returncode == 0, result.stdout
    assert "0 problem(s), 1 warning(s)." in result.stdout
    assert "WARN  LLM providers" in result.stdout
    assert not data.exists()  # the doctor only looks
    found = checks(doctor(data, "--json"))
    assert {c["status"] for n, c in found.items() if n != "LLM providers"} == {"ok"}
    assert set(found) >= {"HTTP port", "OTLP/gRPC port", "data dir", "disk", "WAL backlog"}
    assert {"schema: junjo.db", "schema: wal.db", "schema: spans.duckdb", "TLS"} <= set(found)


def test_a_data_dir_others_can_enter_fails_with_the_fix(tmp_path: Path):
    data = tmp_path / "data"
    make_keys(data)
    data.chmod(0o755)
    result = doctor(data)
    assert result.returncode == 1
    assert f"fix: chmod 700 {data}" in result.stdout
    data.chmod(0o700)
    (data / "junjo.db").chmod(0o644)
    found = checks(doctor(data, "--json"))["data dir"]
    assert found["status"] == "fail" and "junjo.db" in found["detail"]


def test_a_port_another_process_holds_fails(tmp_path: Path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = doctor(tmp_path / "data", "--json", JUNJO_PORT=str(port))
    assert result.returncode == 1
    found = checks(result)["HTTP port"]
    assert found["status"] == "fail"
    assert f"127.0.0.1:{port}" in found["detail"] and "--port" in found["fix"]


@pytest.mark.slow
def test_beside_a_running_server_its_ports_and_stores_are_fine(tmp_path: Path):
    data = tmp_path / "data"
    with ServerProcess(data) as server:
        env = {"JUNJO_PORT": str(server.port), "JUNJO_GRPC_PORT": str(server.grpc_port)}
        result = doctor(data, "--json", **env)
    assert result.returncode == 0, result.stdout
    found = checks(result)
    assert "held by this data dir's server" in found["HTTP port"]["detail"]
    assert "held by this data dir's server" in found["OTLP/gRPC port"]["detail"]
    assert "in use by the running server" in found["schema: spans.duckdb"]["detail"]
    assert "up to date" in found["schema: junjo.db"]["detail"]


def test_a_store_from_a_newer_junjo_fails(tmp_path: Path):
    data = tmp_path / "data"
    make_keys(data)  # creates junjo.db at the current version
    with sqlite3.connect(data / "junjo.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', '')")
    result = doctor(data, "--json")
    assert result.returncode == 1
    found = checks(result)["schema: junjo.db"]
    assert found["status"] == "fail" and "newer junjo" in found["detail"]


def test_a_wal_backlog_at_its_bound_fails(tmp_path: Path):
    data = tmp_path / "data"
    Settings(data_dir=data).ensure_data_dir()
    wal = WriteAheadLog(data / "wal.db")
    try:
        for _ in range(3):
            wal.append(b"x" * 400_000, span_count=1)
    finally:
        wal.close()
    result = doctor(data, "--json", JUNJO_INGEST_MAX_BACKLOG_MB="1")
    assert result.returncode == 1
    found = checks(result)["WAL backlog"]
    assert found["status"] == "fail" and found["detail"].startswith("3 batches, 1.1 MiB")
    assert checks(doctor(data, "--json"))["WAL backlog"]["status"] == "ok"  # 512 MiB bound


def test_a_configured_provider_is_named(tmp_path: Path):
    result = doctor(tmp_path / "data", "--json", OPENAI_API_KEY="sk-test")
    assert checks(result)["LLM providers"] == {
        "name": "LLM providers",
        "status": "ok",
        "detail": "openai",
        "fix": "",
    }


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate with its key, and an unrelated key."""
    where = tmp_path_factory.mktemp("tls")
    paths = {n: where / f"{n}.pem" for n in ("cert", "key", "other_key")}
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=localhost", "-days", "2", "-keyout", paths["key"],
         "-out", paths["cert"]],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", paths["other_key"]],
        check=True, capture_output=True,
    )  # fmt: skip
    for path in paths.values():
        path.chmod(0o600)
    return paths


def tls(cert: Path | None, key: Path | None) -> Any:
    # The TLS settings come from another part of the server; the check reads them by name.
    return check_tls(SimpleNamespace(tls_cert=cert, tls_key=key))  # type: ignore[arg-type]


def test_tls_files_are_checked(certificates: dict[str, Path], tmp_path: Path):
    cert, key = certificates["cert"], certificates["key"]
    assert tls(None, None).status == "ok"
    assert tls(cert, key).status == "ok"
    assert tls(cert, None).status == "fail"
    assert tls(cert, tmp_path / "missing.pem").status == "fail"
    mismatched = tls(cert, certificates["other_key"])
    assert mismatched.status == "fail" and "matching private key" in mismatched.fix
    key.chmod(0o644)
    try:
        assert tls(cert, key).fix == f"chmod 600 {key}"
    finally:
        key.chmod(0o600)


def test_the_span_converter_is_named_with_why_python(tmp_path: Path):
    data = tmp_path / "data"
    lines = doctor(data).stdout.splitlines()
    (line,) = [line for line in lines if "span converter" in line]
    assert line.split() == ["ok", "span", "converter", "native", "(C", "extension)"]
    found = checks(doctor(data, "--json"))["span converter"]
    assert found == {"name": "span converter", "status": "ok",
                     "detail": "native (C extension)", "fix": ""}  # fmt: skip
    forced = checks(doctor(data, "--json", JUNJO_CONVERTER="python"))["span converter"]
    assert (forced["status"], forced["detail"]) == ("ok", 'python (setting converter = "python")')


def test_the_span_converter_without_the_extension(monkeypatch):
    """A machine without a compiler: auto warns and says why; native fails (serve would
    refuse to start)."""
    from junjo.features.doctor.service import check_converter
    from junjo.features.spans import native

    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_why", "the C extension is not built: no compiler")
    auto = check_converter(Settings(converter="auto"))
    assert auto.status == "warn" and auto.detail == (
        "python (the C extension is not built: no compiler)"
    )
    assert "C compiler" in auto.fix
    forced = check_converter(Settings(converter="native"))
    assert forced.status == "fail" and "junjo serve refuses to start" in forced.detail
