"""Deleting a feature is deleting its folder and its one registration line: a copy of the
package without it still starts (lifespan and all), answers the other features' routes, and
its CLI shows the other commands. Run in a subprocess on the copy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import junjo

PACKAGE = Path(junjo.__file__).resolve().parent

PROBE = """
import json, sys
from starlette.testclient import TestClient
from junjo.config import Settings
from junjo.server.app import create_app
from junjo.kernel.state import Launch

from pathlib import Path
settings = Settings(data_dir=Path(sys.argv[1]), session_secret="s" * 32, grpc_port=0)
app = create_app(settings, Launch(local_token="token"))
paths = ["/", "/users/db-has-users", "/health", "/api/v1/traces", "/api/v1/ingest/status",
         "/api/v1/llm/providers"]
with TestClient(app, headers={"Authorization": "Bearer token"}) as client:
    print(json.dumps({path: client.get(path).status_code for path in paths}))
"""

# A leaf feature (no other feature uses it), a path it serves, the command it adds.
LEAVES = {
    "meta": ("/health", None),
    "traces": ("/api/v1/traces", "traces"),
    "ingest": ("/api/v1/ingest/status", "quarantine"),
    "web": ("/", None),
    "playground": ("/api/v1/llm/providers", None),
}


@pytest.mark.parametrize("feature", sorted(LEAVES))
def test_a_server_without_a_leaf_feature_still_works(tmp_path: Path, feature: str):
    copy = tmp_path / "src" / "junjo"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(copy / "features" / feature)
    registry = copy / "features" / "__init__.py"
    line = f'    "junjo.features.{feature}",\n'
    assert line in registry.read_text()
    registry.write_text(registry.read_text().replace(line, ""))

    env = {"PYTHONPATH": str(copy.parent), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    statuses = json.loads(run.stdout.strip().splitlines()[-1])
    gone, command = LEAVES[feature]
    assert statuses.pop(gone) == 404
    assert set(statuses.values()) == {200}, statuses

    help_text = subprocess.run(
        [sys.executable, "-m", "junjo", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    ).stdout
    assert "user" in help_text and "keys" in help_text
    if command:
        assert f"  {command} " not in help_text
