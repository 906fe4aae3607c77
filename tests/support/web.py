"""A real ``junjo serve`` for browser tests: one signed-up user, an ingest key and a read
key, made in its data dir before it starts, and helpers to sign a page in and to wait until
what was exported is indexed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from junjo.features.users import service as users
from tests.support.keys import Keys, make_keys
from tests.support.server import ServerProcess
from tests.support.wait import wait_until

# Debian's chromium, with the flags a closed network and a headless root session need
# (the browser tests and scripts/bench_web.py launch it through Playwright).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

EMAIL = "admin@example.com"
PASSWORD = "correct horse battery"


@dataclass
class WebServer:
    server: ServerProcess
    keys: Keys
    email: str = EMAIL
    password: str = PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)  # what a module's seeding recorded

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **params: Any) -> Any:
        """A GET of the API with the read key; the JSON of a 200."""
        headers = {"Authorization": f"Bearer {self.keys.read}"}
        response = httpx.get(self.url + path, params=params, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def sign_in(self, page: Page, email: str | None = None, password: str | None = None) -> None:
        """Signs the page's browser context in through the API (the session cookie is then
        the context's), as a signed-in user who opens a bookmark would be."""
        response = page.request.post(
            self.url + "/sign-in",
            data={"email": email or self.email, "password": password or self.password},
            headers={"Origin": self.url},
        )
        assert response.ok, response.text()

    def wait_indexed(self, timeout: float = 60) -> None:
        """Until everything the server accepted is indexed (its backlog is empty)."""

        def done() -> bool:
            return self.server.ingest_status(self.keys.read)["backlog"]["batches"] == 0

        wait_until(done, timeout, message=lambda: str(self.server.ingest_status(self.keys.read)))


def start_web_server(data_dir: Path, *args: str, with_user: bool = True) -> WebServer:
    """A started server (stop it with ``.server.stop()``, or use ``web_server`` below)."""
    keys = make_keys(data_dir)
    if with_user:
        users.create_first_user(keys.control.db, EMAIL, PASSWORD)
    server = ServerProcess(data_dir, *args).start()
    return WebServer(server, keys)
