"""Browser tests: Playwright driving Debian's chromium (``.ci/run`` installs it; Playwright's
own browser download is never used). Every page fails its test on a console error, and
leaves a screenshot in one folder per run, named in the run's summary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from tests.support.web import CHROMIUM, CHROMIUM_FLAGS, WebServer, start_web_server

_SCREENSHOTS = pytest.StashKey[Path]()


# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and a later test that runs asyncio itself (the in-process CLI)
# would fail with "Cannot run the event loop while another loop is running".
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this run's screenshots (its path is printed at the end of the run)."""
    folder = tmp_path_factory.mktemp("screenshots", numbered=False)
    request.config.stash[_SCREENSHOTS] = folder
    return folder


@pytest.fixture
def page(browser: Browser, screenshots: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page (own context: no cookies shared between tests). The test fails on any
    console error or uncaught exception (but those a ``@pytest.mark.allow_console(regex)``
    names: a test that provokes a 401 expects Chromium's "Failed to load resource" line);
    its last state is saved as ``<test name>.png``."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text} ({message.location})")

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield page
    page.screenshot(path=screenshots / f"{request.node.name}.png", full_page=True)
    context.close()
    allowed = [re.compile(p) for m in request.node.iter_markers("allow_console") for p in m.args]
    unexpected = [error for error in errors if not any(p.search(error) for p in allowed)]
    assert unexpected == [], "the page logged errors"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config):
    folder = config.stash.get(_SCREENSHOTS, None)
    if folder is not None:
        terminalreporter.write_line(f"Browser test screenshots: {folder}")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A server with one user and keys, for a module's tests (seed it in the module)."""
    web = start_web_server(tmp_path_factory.mktemp("web") / "data")
    yield web
    web.server.stop()
    web.server.kill()


@pytest.fixture
def signed_in(page: Page, web: WebServer) -> Page:
    """``page``, signed in as ``web``'s user."""
    web.sign_in(page)
    return page
