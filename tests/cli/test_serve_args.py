"""`junjo serve` parses plain options without typer (and so without pydantic, to save RSS)."""

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from junjo.cli import SERVE_OPTIONS, app, plain_serve_flags
from tests.support.server import clean_env


def test_fast_path_knows_exactly_the_options_of_the_serve_command():
    serve = typer.main.get_command(app).commands["serve"]
    assert sorted(o for p in serve.params for o in p.opts) == sorted(SERVE_OPTIONS)


def test_plain_options_are_parsed():
    flags = plain_serve_flags(
        ["serve", "--port", "8000", "--grpc-port=8001", "--data-dir", "/tmp/d", "--host", "::"]
    )
    assert flags == {
        "host": "::",
        "port": 8000,
        "grpc_port": 8001,
        "data_dir": Path("/tmp/d"),
        "config": None,
        "log_level": None,
        "log_format": None,
        "tls_cert": None,
        "tls_key": None,
    }
    assert plain_serve_flags(["serve"]) == dict.fromkeys(flags)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--help"],
        ["serve", "--port", "http"],
        ["serve", "--port"],
        ["serve", "--grpc", "1"],  # typer does not accept abbreviations either
        ["serve", "--unknown", "1"],
        ["serve", "extra"],
        ["--version"],
        ["migrate"],
        [],
    ],
)
def test_anything_else_is_left_to_typer(args):
    assert plain_serve_flags(args) is None


def test_serve_runs_without_pydantic(tmp_path):
    code = (
        "import sys\n"
        "import junjo.server.serve as s\n"
        "s.serve = lambda settings: print(settings.port, 'pydantic' in sys.modules)\n"
        f"sys.argv = ['junjo', 'serve', '--data-dir', {str(tmp_path)!r}, '--port', '8123']\n"
        "from junjo.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env()
    )
    assert result.stdout.split() == ["8123", "False"], result.stderr


def test_a_bad_setting_on_the_fast_path_exits_like_typer(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "junjo", "serve", "--data-dir", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: setting 'port'")
    assert "Traceback" not in result.stderr
