"""LiteLLM costs seconds and ~200 MB to import: only a playground call pays it, and the
import reaches no network (its offline switches: the bundled price map and catalogs)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO, free_port


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
settings = Settings(data_dir=__import__("pathlib").Path({str(tmp_path)!r}), grpc_port={free_port()})
app = create_app(settings)
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


def test_a_call_reaches_only_the_provider():
    """Beyond the import: a plain and a streamed call connect to the provider's address and
    nowhere else (no price map, tokenizer or telemetry fetch)."""
    code = """
import asyncio, sys
from tests.support.fake_llm import FakeLLM
from junjo.config import Settings
from junjo.features.playground import engine
from junjo.features.playground.providers import load_providers
from junjo.features.playground.requests import parse_request

seen = set()
def audit(event, args):
    if event == "socket.connect":
        seen.add(str(args[1]))
    elif event == "socket.getaddrinfo":
        seen.add(f"resolve {args[0]}")
with FakeLLM() as fake:
    settings = Settings(openai_compatible_base_url=fake.base_url)
    provider = load_providers(settings, env={})["openai_compatible"]
    request = parse_request({"model": "openai_compatible/gpt-4o-mini",
                             "messages": [{"role": "user", "content": "hi"}]})
    engine.load_litellm()
    sys.addaudithook(audit)
    async def main():
        outcome = await engine.generate(request, provider, 10)
        assert outcome.response, outcome.error
        streamed, chunks = await engine.open_stream(request, provider, 10)
        async for _ in engine.stream_deltas(streamed, chunks, provider, 10):
            pass
        assert streamed.response, streamed.error
    asyncio.run(main())
    port = fake.base_url.split(":")[2].split("/")[0]
print(sorted(seen))
print(port)
"""
    *_, seen, port = run(code)
    provider = f"('127.0.0.1', {port})"
    found = set(ast.literal_eval(seen))
    assert provider in found  # the hook sees connections
    assert found <= {provider, "resolve 127.0.0.1"}, seen
