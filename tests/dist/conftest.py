"""The distributions as `make dist` builds them, built once per test session in a temp dir:
the sdist, the wheel built from it, the wheel installed by pipx (its own fresh venv), and
the zipapp.

Offline after the first run: the dependencies' wheels are kept in ``.cache/dist-wheels``
(``pip download`` fills it when an install from it alone fails), and the wheel is built
without build isolation, with the dev venv's setuptools.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import REPO, clean_env

WHEELS = REPO / ".cache" / "dist-wheels"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    venv_bin: Path  # where pipx put the commands of a fresh venv with the wheel
    zipapp: Path
    shiv_root: Path  # where this session's zipapp unpacks (SHIV_ROOT)


def _run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    parts = [str(part) for part in command]
    done = subprocess.run(parts, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


def _offline(*pip_args: str | Path) -> list[str | Path]:
    return ["--no-index", "--find-links", WHEELS, *pip_args]


def _fill_wheel_cache(wheel: Path) -> None:
    """The wheels of ``wheel``'s dependencies in WHEELS, downloaded only when missing."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    check = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", WHEELS]
    done = subprocess.run([*check, *_offline(wheel)], capture_output=True, text=True)
    if done.returncode != 0:  # something new is needed: fetch it once
        _run(*check, wheel)


def _install_venv(where: Path, wheel: Path) -> Path:
    """``pipx install`` of the wheel, as the README says: pipx makes a fresh venv and pip
    installs the wheel into it; the commands land in ``where/bin``."""
    env = clean_env(PIPX_HOME=str(where / "home"), PIPX_BIN_DIR=str(where / "bin"))
    env["PIPX_MAN_DIR"] = str(where / "man")
    pip_args = " ".join(str(arg) for arg in _offline())
    _run(sys.executable, "-m", "pipx", "install", f"--pip-args={pip_args}", wheel, env=env)
    return where / "bin"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    # The sdist, then the wheel from the sdist (as `python -m build` does): the wheel has
    # only what the sdist carries.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, REPO)
    (sdist,) = out.glob("junjo_server-*.tar.gz")
    (wheel,) = out.glob("junjo_server-*.whl")
    _fill_wheel_cache(wheel)
    build_zipapp = REPO / "scripts" / "build_zipapp.py"
    # Side by side: each is mostly pip unpacking files, or zlib, on its own core.
    with ThreadPoolExecutor(2) as pool:
        venv_job = pool.submit(_install_venv, out / "venv", wheel)
        # Uncompressed: deflating and inflating 360 MB would double this fixture's time on a
        # loaded machine, and compression is zipfile's business, not ours.
        zipapp_job = pool.submit(
            _run, sys.executable, build_zipapp, wheel, "--outdir", out, "--uncompressed",
            *_offline(),
        )  # fmt: skip
    venv_bin = venv_job.result()
    zipapp_job.result()
    (zipapp,) = out.glob("junjo-server-*.pyz")
    built = Built(sdist, wheel, venv_bin, zipapp, out / "shiv")
    # The first run unpacks the dependencies (several seconds): done here, once, so the
    # tests' servers start as they do on every later run.
    _run(*zipapp_command(built), "--version", env=zipapp_env(built))
    return built


def base_python() -> str:
    """The Python under the dev venv: the zipapp must not see the venv's packages."""
    return getattr(sys, "_base_executable", sys.executable)


def zipapp_command(built: Built) -> list[str]:
    return [base_python(), str(built.zipapp)]


def zipapp_env(built: Built, **extra: str) -> dict[str, str]:
    return clean_env(SHIV_ROOT=str(built.shiv_root), **extra)
