"""A real ``junjo serve`` whose playground has one provider configured: an OpenAI-compatible
server (tests/support/fake_llm.py) on loopback, reached through LiteLLM over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.web import WebServer, start_web_server

# A call is given up after this long; fake-slow takes longer.
TIMEOUT_S = 2


@pytest.fixture(scope="package")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(slow_seconds=TIMEOUT_S + 3) as fake:
        yield fake


def write_config(folder: Path, fake: FakeLLM) -> Path:
    config = folder / "junjo.toml"
    config.write_text(
        f'openai_compatible_base_url = "{fake.base_url}"\n'
        'openai_compatible_api_key = "sk-fake-compatible-secret"\n'
        f"llm_timeout_seconds = {TIMEOUT_S}\n"
    )
    return config


@pytest.fixture(scope="package")
def llm_web(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[WebServer]:
    folder = tmp_path_factory.mktemp("playground")
    web = start_web_server(folder / "data", "--config", str(write_config(folder, fake_llm)))
    yield web
    web.server.stop()
    web.server.kill()


@pytest.fixture
def session(llm_web: WebServer) -> Iterator[httpx.Client]:
    """A client signed in as the server's user (the session cookie), as the UI is."""
    headers = {"Origin": llm_web.url}
    with httpx.Client(base_url=llm_web.url, headers=headers, timeout=30) as client:
        response = client.post(
            "/sign-in", json={"email": llm_web.email, "password": llm_web.password}
        )
        assert response.status_code == 200, response.text
        yield client
