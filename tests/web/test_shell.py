"""The app shell in a real browser against a real ``junjo serve``: it renders, deep links
reload into it, API paths keep their JSON answers, and the CSP holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from junjo import __version__
from junjo.server.middleware import CONTENT_SECURITY_POLICY
from tests.support.server import ServerProcess
from tests.support.web import WebServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("web") / "data") as server:
        yield server


def test_the_shell_shows_the_server_and_its_version(page: Page, server: ServerProcess):
    response = page.goto(server.url + "/")
    assert response is not None and response.ok
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    expect(page.get_by_role("link", name="Junjo", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Junjo server {__version__}")).to_be_visible()


def test_a_deep_link_reloads_into_the_shell(signed_in: Page, web: WebServer):
    page = signed_in
    response = page.goto(web.url + "/traces?service=svc")
    assert response is not None and response.status == 200
    page.reload()
    assert page.url == web.url + "/traces?service=svc"
    expect(page.get_by_text(f"Junjo server {__version__}")).to_be_visible()


def test_an_unknown_api_path_is_a_json_404_not_the_shell(page: Page, server: ServerProcess):
    # Fetched through the page's context, not navigated to: a 404 navigation is a console
    # error, which the page fixture rightly fails on.
    response = page.request.get(server.url + "/api/v1/nope")
    assert response.status == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}
