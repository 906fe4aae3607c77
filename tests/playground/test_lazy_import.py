"""LiteLLM costs seconds and ~200 MB to import: only a playground call pays it, and the
import reaches no network (its offline switches: the bundled price map and catalogs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO


def run(code: str, cwd: Path = REPO) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_a_started_app_and_prices_do_not_import_litellm(tmp_path: Path):
    code = f"""
import sys
from starlette.testclient import TestClient
from junjo.config import Settings
from junjo.server.app import create_app
from junjo.features.llm_cost import call_cost, price_of
app = create_app(Settings(data_dir=__import__("pathlib").Path({str(tmp_path)!r})))
with TestClient(app) as client:
    assert client.get("/health").status_code == 200
    assert price_of("openai/gpt-4o-mini") is not None
    assert call_cost("gpt-4o", 10, 10)["usd"] > 0
print(sorted(m for m in sys.modules if m.split(".")[0] == "litellm"))
"""
    assert run(code)[-1] == "[]"


def test_importing_litellm_reaches_no_network():
    code = """
import sys
seen = []
def audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        seen.append((event, str(args[1] if event == "socket.connect" else args[0])))
sys.addaudithook(audit)
from junjo.features.playground.engine import load_litellm
litellm = load_litellm()
assert litellm.model_cost["gpt-4o-mini"]["input_cost_per_token"] > 0
print(seen)
"""
    assert run(code)[-1] == "[]"
