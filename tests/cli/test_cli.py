"""The terminal door: real `junjo` subprocesses on a temp data dir."""

import json
import stat
import subprocess
import sys

from tests.support.files import assert_private
from tests.support.server import clean_env, run_cli


def test_version_and_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "junjo", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("junjo ")


def test_help_does_not_import_the_heavy_stack():
    code = (
        "import sys; sys.argv = ['junjo', '--help']\n"
        "from junjo.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'starlette', 'uvicorn', 'duckdb', 'litellm', 'grpc', 'google'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_user_and_key_administration(tmp_path):
    data = tmp_path / "data"
    added = run_cli(data, "user", "add", "Ops@Example.com", "--password-stdin", stdin="pw-123456\n")
    assert added.returncode == 0, added.stderr
    users = json.loads(run_cli(data, "user", "list", "--json").stdout)
    assert [u["email"] for u in users] == ["ops@example.com"]
    assert "password" not in json.dumps(users)

    created = json.loads(run_cli(data, "keys", "create", "prod app", "--json").stdout)
    assert len(created["key"]) == 64 and created["scope"] == "ingest"
    reader = json.loads(run_cli(data, "keys", "create", "ci", "--scope", "read", "--json").stdout)
    listed = json.loads(run_cli(data, "keys", "list", "--json").stdout)
    assert [k["name"] for k in listed] == ["ci", "prod app"]
    assert created["key"] not in json.dumps(listed)

    assert run_cli(data, "keys", "delete", reader["id"]).returncode == 0
    missing = run_cli(data, "keys", "delete", reader["id"])
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad_scope = run_cli(data, "keys", "create", "x", "--scope", "root")
    assert bad_scope.returncode == 2 and "scope" in bad_scope.stderr


def test_user_add_refuses_control_characters_in_the_email(tmp_path):
    data = tmp_path / "data"
    for email in ("ops\x01@example.com", "ops\x1b[31m@example.com"):
        added = run_cli(data, "user", "add", email, "--password-stdin", stdin="pw-123456\n")
        assert added.returncode == 2, added.stdout
        assert "control characters" in added.stderr
    assert json.loads(run_cli(data, "user", "list", "--json").stdout) == []


def test_password_change_and_last_user_guard(tmp_path):
    data = tmp_path / "data"
    run_cli(data, "user", "add", "a@example.com", "--password-stdin", stdin="pw-123456\n")
    run_cli(data, "user", "add", "b@example.com", "--password-stdin", stdin="pw-123456\n")
    changed = run_cli(
        data, "user", "passwd", "a@example.com", "--password-stdin", stdin="new-pw-1\n"
    )
    assert changed.returncode == 0, changed.stderr
    short = run_cli(data, "user", "passwd", "a@example.com", "--password-stdin", stdin="x\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert run_cli(data, "user", "delete", "b@example.com", "--yes").returncode == 0
    last = run_cli(data, "user", "delete", "a@example.com", "--yes")
    assert last.returncode == 1 and "last user" in last.stderr
    dup = run_cli(data, "user", "add", "A@example.com", "--password-stdin", stdin="pw-123456\n")
    assert dup.returncode == 1 and "already exists" in dup.stderr


def test_password_prompt_needs_a_terminal(tmp_path):
    result = run_cli(tmp_path / "data", "user", "add", "a@example.com", stdin="")
    assert result.returncode == 2 and "--password-stdin" in result.stderr


def test_migrate_and_status(tmp_path):
    data = tmp_path / "data"
    status = run_cli(data, "migrate", "--status")
    assert "version 0 of" in status.stdout and "pending 1" in status.stdout
    assert status.stdout.count("not created yet") == 3
    assert not data.exists()  # --status only looks
    applied = run_cli(data, "migrate")
    assert "applied" in applied.stdout
    assert "up to date" in run_cli(data, "migrate").stdout


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    import sqlite3

    data = tmp_path / "data"
    run_cli(data, "migrate")
    conn = sqlite3.connect(data / "junjo.db")
    conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01T00:00:00Z')")
    conn.commit()
    for args in (["migrate"], ["user", "list"]):
        result = run_cli(data, *args)
        assert result.returncode == 1
        assert "newer junjo" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "junjo", "user", "list", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=clean_env(JUNJO_PORT="eighty"),
    )
    assert result.returncode == 2 and "'port'" in result.stderr


def test_commands_that_create_the_data_dir_keep_it_private(tmp_path):
    """Under the usual umask 022, files would be world-readable unless junjo says otherwise."""
    added = run_cli(
        tmp_path / "a",
        "user",
        "add",
        "a@example.com",
        "--password-stdin",
        stdin="pw-123456\n",
        umask=0o022,
    )
    assert added.returncode == 0, added.stderr
    assert run_cli(tmp_path / "m", "migrate", umask=0o022).returncode == 0
    for data in (tmp_path / "a", tmp_path / "m"):
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert (data / "junjo.db").exists()
        assert_private(data)
