"""`junjo keys ...` on a temp data dir."""

import json

from tests.support.cli import run_cli


def test_key_administration(tmp_path):
    data = tmp_path / "data"
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


def test_the_keys_table_shows_whole_ids_on_a_narrow_terminal(tmp_path):
    data = tmp_path / "data"
    made = [
        json.loads(run_cli(data, "keys", "create", name, "--json").stdout)
        for name in ("a rather long name for the production ingest key", "ci")
    ]
    for columns in ("80", "50"):
        table = run_cli(data, "keys", "list", env={"COLUMNS": columns}).stdout
        assert max(len(line) for line in table.splitlines()) <= int(columns)
        assert all(key["id"] in table for key in made)
        assert "production" in table and "ingest" in table
