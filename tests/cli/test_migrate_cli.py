"""`junjo migrate` on a temp data dir."""

from tests.support.cli import run_cli
from tests.support.files import newer_data_dir


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
    data = newer_data_dir(tmp_path / "data")
    for args in (["migrate"], ["user", "list"]):
        result = run_cli(data, *args)
        assert result.returncode == 1
        assert "newer junjo" in result.stderr and "Traceback" not in result.stderr
