"""Fixtures shared by every test: real SQLite/DuckDB files in temp dirs, the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from junjo.config import Settings
from junjo.features.users.passwords import TEST_CHEAP_HASH_ENV
from junjo.kernel.control_db import ControlDB
from junjo.kernel.state import Launch
from junjo.server.app import create_app

SETUP_TOKEN = "test-setup-token"
LOCAL_TOKEN = "local-operator-token"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """argon2's cheapest cost for every hash the tests make, here and in the `junjo`
    processes they start (``clean_env`` passes it on): the real cost is ~0.2 s and 64 MiB a
    hash. Set before the first hash, which fixes the cost for this process. A test of what
    the real cost does starts its server with ``REAL_PASSWORD_HASHING``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TEST_CHEAP_HASH_ENV, "1")
        yield


@pytest.fixture(params=["native", "python"])
def conversion_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a store test on both span converters: ``tests.support.span_store.convert`` and
    the indexers of tests/spans/conftest.py take this path. The native variant fails (not
    skips) when the C extension is not built."""
    from tests.support import span_store

    path: str = request.param
    span_store.check_conversion_path(path)
    monkeypatch.setattr(span_store, "CONVERSION_PATH", path)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        session_secret="test-secret-of-at-least-32-characters",
        grpc_port=0,
    )


@pytest.fixture
def control(settings: Settings) -> ControlDB:
    settings.ensure_data_dir()
    return ControlDB(settings.control_db_path)


@pytest.fixture
def app(settings: Settings, control: ControlDB):
    """The whole app, every feature; its lifespan runs inside ``client``."""
    return create_app(settings, Launch(local_token=LOCAL_TOKEN, setup_token=SETUP_TOKEN))


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    """A client signed in as the first user, admin@example.com."""
    response = client.post(
        "/users/create-first-user",
        json={"email": "admin@example.com", "password": PASSWORD, "setup_token": SETUP_TOKEN},
    )
    assert response.status_code == 200, response.text
    return client
