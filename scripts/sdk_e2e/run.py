"""Run the real-junjo-SDK workload against an OTLP/gRPC endpoint and print its manifest.

    python scripts/sdk_e2e/run.py --endpoint 127.0.0.1:26155 --api-key KEY [--service-name e2e-app]
                                  [--runs 1]

Importable as well: `run_workload(endpoint, api_key, service_name="junjo-e2e", runs=1,
sdk_version=...) -> dict`, and `run_shared_store_workload(...)` for the contract-3 Store-sharing
workload (`shared_store_app.py`, SDK >= 0.69.0). Each SDK venv is built on first use (about 25 s)
and cached in `.cache/sdk-venv-<version>`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `scripts.sdk_e2e` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.sdk_e2e.venv import CONTRACT_2_SDK, NEWEST_SDK, clean_env, ensure_sdk_venv

APP = Path(__file__).resolve().with_name("workflow_app.py")
SHARED_STORE_APP = Path(__file__).resolve().with_name("shared_store_app.py")
EXPORT_FAILED = 2


class WorkloadError(RuntimeError):
    """The workload crashed, or (with check=True) its spans were not all exported."""

    def __init__(self, message: str, manifest: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.manifest = manifest


def run_workload(
    endpoint: str,
    api_key: str,
    service_name: str = "junjo-e2e",
    runs: int = 1,
    *,
    check: bool = True,
    timeout: float = 300,
    sdk_version: str = CONTRACT_2_SDK,
) -> dict[str, Any]:
    """Run `runs` x (one completing + one failing) junjo workflows; return the manifest.

    With `check=False` a manifest whose export failed (say, a rejected API key) is returned
    instead of raising; look at `manifest["export"]["ok"]`.
    """
    python = ensure_sdk_venv(version=sdk_version)
    cmd = [str(python), str(APP), "--endpoint", endpoint, "--api-key", api_key,
           "--service-name", service_name, "--runs", str(runs)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="junjo-sdk-run-") as cwd:
        proc = subprocess.run(
            cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout
        )
    manifest = json.loads(proc.stdout) if proc.stdout.strip() else None
    if proc.returncode == EXPORT_FAILED and manifest is not None and not check:
        return manifest
    if proc.returncode != 0 or manifest is None:
        raise WorkloadError(
            f"workload exited {proc.returncode}; stderr tail:\n{proc.stderr[-4000:]}", manifest
        )
    return manifest


def run_shared_store_workload(
    endpoint: str | None, api_key: str | None, service_name: str = "junjo-e2e-v3"
) -> list[dict[str, Any]]:
    """Run `shared_store_app.py` on the newest SDK; return its spans (query-layer shape). With
    an endpoint they are exported there too."""
    python = ensure_sdk_venv(version=NEWEST_SDK)
    cmd = [str(python), str(SHARED_STORE_APP), "--service-name", service_name]
    if endpoint:
        cmd += ["--endpoint", endpoint, "--api-key", api_key or ""]
    with tempfile.TemporaryDirectory(prefix="junjo-sdk-run-") as cwd:
        proc = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise WorkloadError(
            f"shared-store workload exited {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    spans: list[dict[str, Any]] = json.loads(proc.stdout)
    return spans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="OTLP gRPC host:port")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--service-name", default="junjo-e2e")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    try:
        manifest = run_workload(args.endpoint, args.api_key, args.service_name, args.runs)
    except WorkloadError as exc:
        if exc.manifest is not None:
            print(json.dumps(exc.manifest, indent=2, sort_keys=True))
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
