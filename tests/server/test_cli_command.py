"""The `junjo` that `junjo serve`'s banner and setup notice print is one that reaches this
server when pasted into a shell on the same machine."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from junjo.server.serve import cli_command
from tests.conftest import PASSWORD
from tests.support.cli import run_cli
from tests.support.server import ServerProcess, clean_env

VENV_BIN = Path(sys.executable).parent  # where the editable install put junjo, junjo-server


def script(directory: Path, name: str = "junjo") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\necho 'the Junjo SDK: only eval' >&2\nexit 2\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def started_as(monkeypatch):
    def start(argv0: str | Path, *path: Path) -> str:
        monkeypatch.setattr(sys, "argv", [str(argv0), "serve"])
        monkeypatch.setenv("PATH", os.pathsep.join(str(p) for p in path))
        return cli_command()

    return start


def test_the_bare_name_when_path_finds_that_very_script(tmp_path, started_as):
    junjo = script(tmp_path / "bin")
    assert started_as(junjo, tmp_path / "bin") == "junjo"
    alias = script(tmp_path / "bin", "junjo-server")
    assert started_as(alias, tmp_path / "sdk", tmp_path / "bin") == "junjo-server"


def test_the_full_path_when_path_finds_another_junjo_or_none(tmp_path, started_as, monkeypatch):
    server = script(tmp_path / "server venv" / "bin")
    script(tmp_path / "sdk")  # the SDK's junjo, first on PATH
    quoted = shlex.quote(str(server))
    assert started_as(server, tmp_path / "sdk", server.parent) == quoted
    assert started_as(server, tmp_path / "elsewhere") == quoted
    monkeypatch.chdir(tmp_path)  # make serve: .venv/bin/junjo, relative, not on PATH
    assert started_as(Path("server venv/bin/junjo"), tmp_path / "elsewhere") == quoted


def test_this_python_when_started_as_a_module(tmp_path, started_as):
    python_m = shlex.join([sys.executable, "-m", "junjo"])
    assert started_as(Path(__file__).parents[2] / "junjo" / "__main__.py", VENV_BIN) == python_m
    assert started_as("-c", VENV_BIN) == python_m


def printed_user_add(server: ServerProcess) -> list[str]:
    assert server.setup_token  # waits for the notice's last line
    match = re.search(r"^  (.+ user add .+)$", server.log, re.MULTILINE)
    assert match, server.log
    return shlex.split(match.group(1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "path", "printed", "data_dir"),
    [
        # make serve: .venv/bin is not on PATH.
        ("junjo", "/usr/bin:/bin", str(VENV_BIN / "junjo"), "data"),
        # The SDK's junjo first on PATH: the alias still reaches the server.
        ("junjo-server", "{sdk}:{venv}:/usr/bin:/bin", "junjo-server", "data"),
        # The default data dir: a bare command finds it without --data-dir.
        ("junjo", "{venv}:/usr/bin:/bin", "junjo", "share/junjo"),
    ],
)
def test_the_printed_commands_reach_this_server(tmp_path, name, path, printed, data_dir):
    path = path.format(sdk=script(tmp_path / "sdk").parent, venv=VENV_BIN)
    env = {"PATH": path, "XDG_DATA_HOME": str(tmp_path / "share")}  # the default's parent
    data = tmp_path / data_dir
    with ServerProcess(data, program=[str(VENV_BIN / name)], env=env) as server:
        command = printed_user_add(server)
        assert f"  CLI              {printed} --help\n" in server.log
        where = [] if data_dir == "share/junjo" else ["--data-dir", str(data)]
        assert command == [printed, "user", "add", *where, "you@example.com"]
        added = subprocess.run(
            [*command, "--password-stdin"],
            input=PASSWORD,
            capture_output=True,
            text=True,
            env=clean_env(**env),
            timeout=60,
        )
        assert added.returncode == 0, added.stderr
    assert "you@example.com" in run_cli(data, "user", "list").stdout
