"""What a user installs: the wheel in a fresh venv, and the zipapp run by a bare Python.

Slow: builds the sdist, the wheel, a venv and the zipapp once per session (about a minute;
the dependencies' wheels come from .cache/dist-wheels after the first run).
"""

from __future__ import annotations

import fcntl
import json
import shlex
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

import junjo
from junjo import DISTRIBUTION
from tests.dist.conftest import Built, zipapp_command, zipapp_env
from tests.support.export import http_exporter, sdk_spans, span_keys
from tests.support.keys import make_keys
from tests.support.server import REPO, ServerProcess, clean_env
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
STATIC = REPO / "junjo" / "features" / "web" / "static"


def run(command: list[str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_wheel_carries_every_file_of_the_web_ui(built: Built):
    expected = {str(p.relative_to(REPO)) for p in STATIC.rglob("*") if p.is_file()}
    assert any("/vendor/" in name for name in expected)
    with zipfile.ZipFile(built.wheel) as wheel:
        missing = expected - set(wheel.namelist())
    assert not missing


def test_the_sdist_carries_the_web_ui_and_the_example_config(built: Built):
    import tarfile

    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert "junjo/features/web/static/index.html" in names
    assert "junjo.toml.example" in names


def serve_ingest_query(command: list[str], env: dict[str, str], data_dir: Path) -> str:
    """``junjo serve`` from ``command``; one OTLP/HTTP export; the trace in ``junjo traces
    list --json`` (through the running server), then a clean stop; returns its log."""
    keys = make_keys(data_dir)
    spans = sdk_spans(3, service="dist-check")
    (trace_id, _), *_ = span_keys(spans)
    with ServerProcess(data_dir, env=env, program=command) as server:
        exporter = http_exporter(server.url, keys.ingest)
        try:
            assert exporter.export(spans).name == "SUCCESS"
        finally:
            exporter.shutdown()

        def listed() -> bool:
            done = run(command, env, "traces", "list", "--json", "--data-dir", str(data_dir))
            assert done.returncode == 0, done.stderr
            return trace_id in {t["trace_id"] for t in json.loads(done.stdout)["traces"]}

        wait_until(listed, timeout=30, interval=0.2, message=lambda: server.log)
        assert server.stop() == 0, server.log
    assert "stopped" in server.log
    return server.log


def test_the_wheel_installs_a_working_junjo(built: Built, tmp_path: Path):
    junjo_script = [str(built.venv_bin / "junjo")]
    done = run(junjo_script, clean_env(), "--version")
    assert done.stdout.strip() == f"{DISTRIBUTION} {junjo.__version__}"
    done = run(junjo_script, clean_env(), "--version", "--verbose")
    assert "Install   wheel" in done.stdout, done.stdout
    serve_ingest_query(junjo_script, clean_env(), tmp_path / "data")


def test_the_zipapp_runs_the_whole_server_on_a_bare_python(built: Built, tmp_path: Path):
    command, env = zipapp_command(built), zipapp_env(built)
    done = run(command, env, "--version", "--verbose")
    assert done.stdout.startswith(f"{DISTRIBUTION} {junjo.__version__}\n"), done.stderr
    assert f"Install   zipapp ({built.zipapp})" in done.stdout
    log = serve_ingest_query(command, env, tmp_path / "data")
    # The banner's CLI is the zipapp, as this Python runs it (not `python -m junjo`).
    assert f"  CLI              {shlex.join(command)} --help\n" in log


def test_the_zipapp_is_named_for_its_python_and_platform(built: Built):
    import sys
    import sysconfig

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert built.zipapp.name == f"junjo-server-{junjo.__version__}-{tag}-{platform}.pyz"


def test_the_zipapp_refuses_another_python_at_once(built: Built, tmp_path: Path):
    # Test-only marker (scripts/zipapp_launcher.py): the launcher takes the running Python
    # for 3.10, as a 3.10 interpreter would report itself.
    shiv_root = tmp_path / "shiv"
    env = clean_env(SHIV_ROOT=str(shiv_root), _JUNJO_PYZ_TEST_PYTHON="3.10")
    started = time.monotonic()
    done = run(zipapp_command(built), env, "serve")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    major_minor = junjo_python()
    assert f"needs CPython {major_minor} on " in done.stderr
    assert "this is CPython 3.10 on " in done.stderr
    assert "Traceback" not in done.stderr and "No module named" not in done.stderr
    assert not shiv_root.exists()  # nothing was unpacked
    assert elapsed < 5


def junjo_python() -> str:
    import sys

    return f"{sys.version_info.major}.{sys.version_info.minor}"


def test_a_new_build_removes_the_unpacked_copies_of_older_ones(built: Built):
    old = built.shiv_root / ("junjo-server-0.0.1-cp311-linux_x86_64.pyz_" + "a" * 64)
    in_use = built.shiv_root / ("junjo-server-0.0.2-cp311-linux_x86_64.pyz_" + "b" * 64)
    for copy in (old, in_use):
        (copy / "site-packages").mkdir(parents=True)
    with open(built.shiv_root / f".{in_use.name}.in-use", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # as a running zipapp of that build holds it
        done = run(zipapp_command(built), zipapp_env(built), "--version")
    assert done.returncode == 0, done.stderr
    assert not old.exists()
    assert in_use.exists()
    current = [p.name for p in built.shiv_root.iterdir() if not p.name.startswith(".")]
    assert sorted(current) == sorted([in_use.name, f"{built.zipapp.name}_{build_id(built)}"])


def build_id(built: Built) -> str:
    with zipfile.ZipFile(built.zipapp) as archive:
        return json.loads(archive.read("environment.json"))["build_id"]


# -- the native converter (junjo/features/spans/native/) -----------------------------------


def test_the_native_converter_is_built_into_the_wheel_from_the_sdists_sources(built: Built):
    import tarfile

    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    sources = {"otlp_walk.c", "otlp_walk.h", "module.c"}
    assert {f"junjo/features/spans/native/{name}" for name in sources} <= names
    with zipfile.ZipFile(built.wheel) as wheel:
        shipped = wheel.namelist()
    assert any(
        name.startswith("junjo/features/spans/_native.") and name.endswith(".so")
        for name in shipped
    )
    assert not [name for name in shipped if name.endswith((".c", ".h"))]
    python = built.venv_bin.parent / "home" / "venvs" / DISTRIBUTION / "bin" / "python"
    check = "from junjo.features.spans import native; print(native.describe())"
    done = subprocess.run([python, "-c", check], capture_output=True, text=True, env=clean_env())
    assert done.stdout.strip() == "native (C extension)", done.stderr


def test_without_a_compiler_the_install_succeeds_and_convert_py_does_the_work(
    built: Built, tmp_path: Path
):
    import site
    import sys

    target = tmp_path / "site"
    env = clean_env(CC="/bin/false")  # every compile fails, as on a machine without one
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation"]
    done = subprocess.run(
        [*install, "--no-deps", "--target", target, built.sdist],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not list(target.glob("junjo/features/spans/_native.*.so"))
    # -S: the dev venv's dependencies, without its editable junjo (a .pth hook)
    path = ":".join([str(target), *site.getsitepackages()])
    check = "from junjo.features.spans import native; print(native.available(), native.describe())"
    done = subprocess.run(
        [sys.executable, "-S", "-c", check],
        capture_output=True,
        text=True,
        env=clean_env(PYTHONPATH=path),
        cwd=tmp_path,  # not the checkout's junjo either
    )
    assert done.stdout.startswith("False python (the C extension is not built"), done.stderr
