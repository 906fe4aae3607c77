"""Build (once) an isolated virtual environment holding the real `junjo` SDK.

The SDK's import name `junjo` clashes with this repository's own package, so it can never live in
the project venv. It goes to `<repo>/.cache/sdk-venv`, is created with the interpreter running this
code, and is only ever used from a working directory outside the repository.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# 0.68.0 is the newest junjo on PyPI; it speaks telemetry contract v2 and its
# JunjoOtelExporter takes `endpoint="host:port"`. The OTel pins are the versions it resolves to.
SDK_VERSION = "0.68.0"
REQUIREMENTS = (
    f"junjo=={SDK_VERSION}",
    "opentelemetry-api==1.45.2",
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-grpc==1.45.2",
)
REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MARKER = ".junjo-e2e-ready.json"

# Run inside the new venv: proves the SDK (not this repo's package) is what `import junjo` finds.
_CHECK_SNIPPET = """
import importlib.metadata, inspect, json, sys
import junjo
from junjo.telemetry.junjo_otel_exporter import JunjoOtelExporter
print(json.dumps({
    "file": junjo.__file__,
    "prefix": sys.prefix,
    "version": importlib.metadata.version("junjo"),
    "exporter_params": list(inspect.signature(JunjoOtelExporter).parameters),
}))
"""


def clean_env() -> dict[str, str]:
    """The current environment minus anything that could leak this repo onto `sys.path`."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if key not in drop}


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def _ready_stamp() -> dict[str, object]:
    return {"requirements": list(REQUIREMENTS), "python": list(sys.version_info[:2])}


def _is_ready(venv_dir: Path) -> bool:
    marker = venv_dir / READY_MARKER
    try:
        return json.loads(marker.read_text()) == _ready_stamp() and venv_python(venv_dir).exists()
    except (OSError, ValueError):
        return False


def _run(cmd: list[str | Path], cwd: str) -> str:
    result = subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=clean_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


def _check_sdk(python: Path, venv_dir: Path, cwd: str) -> None:
    info = json.loads(_run([python, "-c", _CHECK_SNIPPET], cwd).strip().splitlines()[-1])
    sdk_file = Path(info["file"]).resolve()
    problems = []
    if info["version"] != SDK_VERSION:
        problems.append(f"version {info['version']} != {SDK_VERSION}")
    if not sdk_file.is_relative_to(venv_dir.resolve()):
        problems.append(f"`import junjo` resolved to {sdk_file}, outside the SDK venv")
    if "endpoint" not in info["exporter_params"]:
        problems.append(f"JunjoOtelExporter params are {info['exporter_params']}")
    if problems:
        raise RuntimeError("SDK venv check failed: " + "; ".join(problems))


def _build(venv_dir: Path) -> None:
    shutil.rmtree(venv_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="junjo-sdk-build-") as cwd:
        _run([sys.executable, "-m", "venv", venv_dir], cwd)
        python = venv_python(venv_dir)
        _run([python, "-m", "pip", "install", "--quiet", *REQUIREMENTS], cwd)
        _check_sdk(python, venv_dir, cwd)
        freeze = _run([python, "-m", "pip", "freeze", "--all"], cwd)
    (venv_dir / "requirements.lock.txt").write_text(freeze)
    marker = venv_dir / READY_MARKER
    marker.with_suffix(".tmp").write_text(json.dumps(_ready_stamp()))
    marker.with_suffix(".tmp").replace(marker)  # written last and atomically: the "done" flag


def ensure_sdk_venv(root: Path | None = None) -> Path:
    """Create `<root>/.cache/sdk-venv` with the pinned SDK if needed; return its python.

    Idempotent and safe when several processes race: builders serialise on a lock file and the
    ready marker is written last, so a half-built venv is never used.
    """
    cache = (root or REPO_ROOT) / ".cache"
    venv_dir = cache / "sdk-venv"
    if _is_ready(venv_dir):
        return venv_python(venv_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "sdk-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_ready(venv_dir):
            _build(venv_dir)
    return venv_python(venv_dir)


if __name__ == "__main__":
    print(ensure_sdk_venv())
