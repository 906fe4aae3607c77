"""`junjo user ...` on a temp data dir."""

import json

from tests.support.cli import run_cli


def test_user_add_and_list(tmp_path):
    data = tmp_path / "data"
    added = run_cli(data, "user", "add", "Ops@Example.com", "--password-stdin", stdin="pw-123456\n")
    assert added.returncode == 0, added.stderr
    users = json.loads(run_cli(data, "user", "list", "--json").stdout)
    assert [u["email"] for u in users] == ["ops@example.com"]
    assert "password" not in json.dumps(users)


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
