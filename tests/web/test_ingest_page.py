"""The ingest status page in a real browser against a real ``junjo serve``: the numbers are
the server's, they follow new exports without a reload, and a hidden tab asks nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from junjo.config import Settings
from junjo.features.users import service as users
from junjo.kernel.wal import SetAside, keep_aside
from tests.support.export import http_exporter, sdk_spans
from tests.support.keys import make_keys
from tests.support.otlp_builders import new_ids, request_bytes
from tests.support.server import ServerProcess
from tests.support.wait import wait_until
from tests.support.web import EMAIL, PASSWORD, WebServer, start_web_server
from tests.web.themes import assert_accessible_in_both_themes

STATUS = "/api/v1/ingest/status"


def export(web: WebServer, spans: int, service: str = "ingest-page") -> None:
    exporter = http_exporter(web.url, web.keys.ingest)
    try:
        assert exporter.export(sdk_spans(spans, service=service)).name == "SUCCESS"
    finally:
        exporter.shutdown()


def stat(page: Page, name: str):
    return page.get_by_role("region", name=name)


def test_the_numbers_are_the_servers_and_follow_new_exports(signed_in: Page, web: WebServer):
    page = signed_in
    export(web, 5)
    web.wait_indexed()
    status = web.server.ingest_status(web.keys.read)
    accepted = status["accepted"]["spans"]
    page.goto(web.url + "/ingest")
    expect(page.get_by_role("heading", name="Ingest", level=1)).to_be_visible()
    expect(stat(page, "Accepted").locator(".stat-value")).to_have_text(f"{accepted} spans")
    batches = status["accepted"]["batches"]
    expect(stat(page, "Accepted")).to_contain_text(
        f"in {batches} {'batch' if batches == 1 else 'batches'}, durably in the write-ahead log"
    )
    expect(stat(page, "Indexed").locator(".stat-value")).to_have_text(
        f"{status['indexed']['spans']} spans"
    )
    expect(stat(page, "Backlog").locator(".stat-value")).to_have_text("0 batches")
    expect(stat(page, "Backlog")).to_contain_text("0 B waiting")
    expect(stat(page, "Indexer lag").locator(".stat-value")).to_have_text("none")
    expect(stat(page, "Quarantined").locator(".stat-value")).to_have_text("0 spans")
    expect(page.get_by_text("Indexer: running")).to_be_visible()
    assert_accessible_in_both_themes(page)

    export(web, 3)  # while the page is open: it catches up by itself
    expect(stat(page, "Accepted").locator(".stat-value")).to_have_text(
        f"{accepted + 3} spans", timeout=15_000
    )
    web.wait_indexed()
    expect(stat(page, "Indexed").locator(".stat-value")).to_have_text(
        f"{status['indexed']['spans'] + 3} spans", timeout=15_000
    )


def test_a_hidden_tab_stops_asking_and_a_visible_one_asks_at_once(signed_in: Page, web: WebServer):
    page = signed_in
    page.clock.install()  # the page's timers run when the test says, not on the wall clock
    page.add_init_script(COUNT_STATUS_REQUESTS)
    page.goto(web.url + "/ingest")
    expect(page.get_by_test_id("updated")).to_be_visible()
    first = asked(page)
    page.clock.run_for(3_500)  # one refresh interval
    wait_until(lambda: asked(page) > first, message="no refresh after one interval")
    set_hidden(page, True)
    hidden_at = asked(page)
    page.clock.run_for(30_000)  # ten intervals in a hidden tab
    assert asked(page) == hidden_at
    set_hidden(page, False)
    wait_until(lambda: asked(page) > hidden_at, message="no refresh on becoming visible")


# Counts the page's fetches of the status (the fake clock also fakes `performance`, so
# resource timing cannot tell). An init script, which the page's CSP does not govern.
COUNT_STATUS_REQUESTS = f"""
window.__statusRequests = 0;
const originalFetch = window.fetch;
window.fetch = (resource, ...rest) => {{
  if (String(resource).startsWith("{STATUS}")) window.__statusRequests += 1;
  return originalFetch(resource, ...rest);
}};
"""


def asked(page: Page) -> int:
    """How many status requests the page has made."""
    return page.evaluate("window.__statusRequests")


def set_hidden(page: Page, hidden: bool) -> None:
    """What the browser does when the tab goes to the background (or comes back)."""
    state = "hidden" if hidden else "visible"
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
            Object.defineProperty(document, "visibilityState", {
                configurable: true, get: () => (hidden ? "hidden" : "visible"),
            });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )
    assert page.evaluate("document.visibilityState") == state


@pytest.fixture(scope="module")
def quarantined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A server whose WAL holds a quarantine entry (kept aside before it starts)."""
    data_dir = tmp_path_factory.mktemp("quarantined") / "data"
    keys = make_keys(data_dir)
    users.create_first_user(keys.control.db, EMAIL, PASSWORD)
    payload = request_bytes(new_ids(3))
    entry = SetAside(7, time.time_ns(), None, 3, "store: value out of range", payload)
    keep_aside(Settings(data_dir=data_dir).wal_path, [entry])
    server = ServerProcess(data_dir).start()
    yield WebServer(server, keys)
    server.stop()
    server.kill()


def test_quarantine_entries_are_listed_with_their_error(page: Page, quarantined: WebServer):
    quarantined.sign_in(page)
    page.goto(quarantined.url + "/ingest")
    card = stat(page, "Quarantined")
    expect(card.locator(".stat-value")).to_have_text("3 spans")
    expect(card).to_contain_text("in 1 entry set aside and not replayed")
    table = page.get_by_role("table")
    expect(table.get_by_role("row").nth(1)).to_contain_text("store: value out of range")
    expect(page.get_by_text("junjo quarantine replay")).to_be_visible()
    assert_accessible_in_both_themes(page)


@pytest.fixture(scope="module")
def masking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A server with a masking rule in its junjo.toml."""
    folder = tmp_path_factory.mktemp("masking")
    config = folder / "junjo.toml"
    config.write_text('[[masking.rules]]\nvalue_patterns = ["email"]\n')
    web = start_web_server(folder / "data", "--config", str(config))
    yield web
    web.server.stop()
    web.server.kill()


def test_the_masked_figure_counts_what_the_rules_replaced(page: Page, masking: WebServer):
    exporter = http_exporter(masking.url, masking.keys.ingest)
    spans = sdk_spans(2, service="masked-page")
    spans[0]._attributes = {**spans[0].attributes, "user.contact": "jane@example.com"}
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
    masking.sign_in(page)
    page.goto(masking.url + "/ingest")
    card = stat(page, "Masked")
    expect(card.locator(".stat-value")).to_have_text("1 span")
    expect(card).to_contain_text("1 value replaced before storing, by 1 rule")
    assert_accessible_in_both_themes(page)


def test_without_rules_masking_shows_off(signed_in: Page, web: WebServer):
    signed_in.goto(web.url + "/ingest")
    card = stat(signed_in, "Masked")
    expect(card.locator(".stat-value")).to_have_text("off")
    expect(card).to_contain_text("no masking rules")
