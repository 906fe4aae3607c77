"""Build (once) an isolated virtual environment per release of the real `junjo` SDK.

The SDK's import name `junjo` clashes with this repository's own package, so it can never live in
the project venv. Each release goes to `<repo>/.cache/sdk-venv-<version>`, is created with the
interpreter running this code, and is only ever used from a working directory outside the
repository.
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

# The releases the end-to-end tests run side by side. 0.69.0 speaks telemetry contract 3
# (composable Stores); it declares Python >= 3.11.9 but runs on any 3.11, so it is installed with
# --ignore-requires-python. 0.68.0 is the last contract-2 release and stays the default.
# Both JunjoOtelExporters take `endpoint="host:port"`; the OTel pins are what they resolve to.
NEWEST_SDK = "0.69.0"
CONTRACT_2_SDK = "0.68.0"
SDK_VERSIONS = (NEWEST_SDK, CONTRACT_2_SDK)
OTEL_REQUIREMENTS = (
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


def requirements(version: str) -> tuple[str, ...]:
    return (f"junjo=={version}", *OTEL_REQUIREMENTS)


def _ready_stamp(version: str) -> dict[str, object]:
    return {"requirements": list(requirements(version)), "python": list(sys.version_info[:2])}


def _is_ready(venv_dir: Path, version: str) -> bool:
    marker = venv_dir / READY_MARKER
    try:
        stamp = json.loads(marker.read_text())
        return stamp == _ready_stamp(version) and venv_python(venv_dir).exists()
    except (OSError, ValueError):
        return False


def _run(cmd: list[str | Path], cwd: str) -> str:
    result = subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=clean_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


def _check_sdk(python: Path, venv_dir: Path, cwd: str, version: str) -> None:
    info = json.loads(_run([python, "-c", _CHECK_SNIPPET], cwd).strip().splitlines()[-1])
    sdk_file = Path(info["file"]).resolve()
    problems = []
    if info["version"] != version:
        problems.append(f"version {info['version']} != {version}")
    if not sdk_file.is_relative_to(venv_dir.resolve()):
        problems.append(f"`import junjo` resolved to {sdk_file}, outside the SDK venv")
    if "endpoint" not in info["exporter_params"]:
        problems.append(f"JunjoOtelExporter params are {info['exporter_params']}")
    if problems:
        raise RuntimeError("SDK venv check failed: " + "; ".join(problems))


def _build(venv_dir: Path, version: str) -> None:
    shutil.rmtree(venv_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="junjo-sdk-build-") as cwd:
        _run([sys.executable, "-m", "venv", venv_dir], cwd)
        python = venv_python(venv_dir)
        install = [python, "-m", "pip", "install", "--quiet", "--ignore-requires-python"]
        _run([*install, *requirements(version)], cwd)
        _check_sdk(python, venv_dir, cwd, version)
        freeze = _run([python, "-m", "pip", "freeze", "--all"], cwd)
    (venv_dir / "requirements.lock.txt").write_text(freeze)
    marker = venv_dir / READY_MARKER
    marker.with_suffix(".tmp").write_text(json.dumps(_ready_stamp(version)))
    marker.with_suffix(".tmp").replace(marker)  # written last and atomically: the "done" flag


def ensure_sdk_venv(root: Path | None = None, version: str = CONTRACT_2_SDK) -> Path:
    """Create `<root>/.cache/sdk-venv-<version>` with that SDK if needed; return its python.

    Idempotent and safe when several processes race: builders serialise on a lock file and the
    ready marker is written last, so a half-built venv is never used.
    """
    cache = (root or REPO_ROOT) / ".cache"
    venv_dir = cache / f"sdk-venv-{version}"
    if _is_ready(venv_dir, version):
        return venv_python(venv_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"sdk-venv-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_ready(venv_dir, version):
            _build(venv_dir, version)
    return venv_python(venv_dir)


if __name__ == "__main__":
    for sdk_version in SDK_VERSIONS:
        print(ensure_sdk_venv(version=sdk_version))
