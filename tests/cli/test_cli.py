"""The `junjo` command itself: entry points, what --help imports, settings errors, and the
data dir a command creates."""

import importlib.metadata
import stat
import subprocess
import sys

from junjo import DISTRIBUTION, __version__
from tests.support.cli import run_cli
from tests.support.files import assert_private
from tests.support.server import clean_env


def test_version_and_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "junjo", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"junjo-server {__version__}\n"


def test_the_distribution_installs_both_commands():
    """`junjo`, and `junjo-server` for where the SDK's `junjo` comes first on PATH."""
    dist = importlib.metadata.distribution(DISTRIBUTION)
    assert dist.metadata["Name"] == "junjo-server"
    scripts = {e.name: e.value for e in dist.entry_points if e.group == "console_scripts"}
    assert scripts == {"junjo": "junjo.cli:main", "junjo-server": "junjo.cli:main"}


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
