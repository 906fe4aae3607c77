"""The home page: each service's numbers, the latest failed runs, and, on a server with no
traces yet, how to connect an app (this server's real endpoints) until the first arrives."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.web import WebServer, start_web_server
from tests.web.axe import assert_accessible
from tests.web.seed import S, emit, http_provider, seed_shop_and_assistant

SDK_SERVICE = "junjo-e2e"
NONE = "\N{EN DASH}"  # how the UI writes a number it does not have


@pytest.fixture(scope="module", autouse=True)
def seeded(web: WebServer) -> None:
    from scripts.sdk_e2e.run import run_workload

    web.extra["ids"] = seed_shop_and_assistant(web)
    # The real junjo SDK: one workflow that completes and one that fails.
    web.extra["sdk"] = run_workload(web.server.grpc_target, web.keys.ingest, SDK_SERVICE)
    web.wait_indexed()


def services_table(page: Page) -> Locator:
    return page.get_by_role("region", name="Services").get_by_role("table")


def service_row(page: Page, service: str) -> Locator:
    return (
        services_table(page)
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=service, exact=True))
    )


def test_each_service_with_its_numbers(signed_in: Page, web: WebServer):
    signed_in.goto(web.url + "/")
    headers = services_table(signed_in).get_by_role("columnheader")
    expect(headers).to_have_text(
        ["Service", "Traces", "Spans", "Error rate", "LLM calls", "Tokens", "Last seen"]
    )
    cells = lambda service: service_row(signed_in, service).get_by_role("cell")  # noqa: E731
    # shop: checkout (2 spans, failed), browse, a hostile name, nightly-report
    expect(cells("shop")).to_have_text(["4", "5", "25.0%", "0", NONE, re.compile(r"min ago$")])
    expect(cells("assistant")).to_have_text(["1", "3", "0.0%", "2", "36", re.compile(r"ago$")])
    expect(cells("webhooks")).to_have_text(["1", "1", "0.0%", "0", NONE, re.compile(r"ago$")])
    # the junjo SDK's runs: the numbers the API gives
    (sdk,) = [s for s in web.get("/api/v1/services") if s["service_name"] == SDK_SERVICE]
    assert sdk["error_trace_count"] >= 1
    expect(cells(SDK_SERVICE).nth(0)).to_have_text(f"{sdk['trace_count']:,}")
    expect(cells(SDK_SERVICE).nth(1)).to_have_text(f"{sdk['span_count']:,}")
    expect(cells(SDK_SERVICE).nth(2)).to_have_text(f"{sdk['error_rate'] * 100:.1f}%")
    assert_accessible(signed_in)
    service_row(signed_in, "shop").get_by_role("link", name="25.0%").click()
    expect(signed_in).to_have_url(web.url + "/traces?service=shop&errors=1")
    expect(signed_in.get_by_role("table", name="Traces").locator(".root-cell")).to_have_text(
        ["checkout"]
    )


def test_the_latest_failed_runs_link_to_their_traces(signed_in: Page, web: WebServer):
    signed_in.goto(web.url + "/")
    failures = signed_in.get_by_role("region", name="Latest failed runs")
    rows = failures.get_by_role("row")
    failed = web.get("/api/v1/traces", errors="true")["traces"]
    expect(rows).to_have_count(1 + len(failed))  # the header, then newest first
    expect(rows.nth(1).get_by_role("cell").nth(0)).to_have_text(failed[0]["root_name"])
    checkout = failures.get_by_role("row").filter(has_text="checkout")
    expect(checkout.get_by_role("cell")).to_have_text(
        ["checkout", "shop", re.compile(r"min ago$"), "120 ms", "1"]
    )
    checkout.get_by_role("link", name="checkout").click()
    expect(signed_in).to_have_url(f"{web.url}/traces/shop/{web.extra['ids']['checkout']}")
    signed_in.go_back()
    sdk = failures.get_by_role("row").filter(has_text=SDK_SERVICE)
    expect(sdk).not_to_have_count(0)  # the junjo workflow that raised


@pytest.fixture
def empty(tmp_path) -> Iterator[WebServer]:
    """A server with no traces. Tests ask for it before ``page``, so the page closes first:
    a server stopped under an open page fails its requests (console errors)."""
    web = start_web_server(tmp_path / "data")
    yield web
    web.server.stop()
    web.server.kill()


def test_an_empty_server_says_how_to_connect_and_shows_the_first_trace(
    empty: WebServer, page: Page, screenshots: Path
):
    empty.sign_in(page)
    page.goto(empty.url + "/")
    expect(page.get_by_role("heading", name="No traces yet")).to_be_visible()
    grpc, http = empty.server.grpc_target, f"{empty.url}/v1/traces"
    expect(page.get_by_text(grpc, exact=True)).to_be_visible()
    expect(page.get_by_text(http, exact=True)).to_be_visible()
    junjo = page.get_by_role("region", name="A junjo app (JunjoOtelExporter)")
    expect(junjo.locator("pre")).to_contain_text(f'endpoint="{grpc}"')
    otel_grpc = page.get_by_role("region", name="Any OpenTelemetry app, OTLP/gRPC")
    expect(otel_grpc.locator("pre")).to_contain_text(
        f'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://{grpc}"'
    )
    otel_http = page.get_by_role(
        "region", name="Any OpenTelemetry app, OTLP/HTTP (protobuf or JSON)"
    )
    expect(otel_http.locator("pre")).to_contain_text(f'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="{http}"')
    expect(otel_http.locator("pre")).to_contain_text("x-junjo-api-key=")
    assert_accessible(page)
    page.screenshot(path=screenshots / "home-empty-state.png", full_page=True)
    # The first trace arrives: the page becomes the overview by itself.
    provider = http_provider(empty, "first-app")
    emit(provider, S("hello", 2), time.time_ns())
    provider.shutdown()
    expect(service_row(page, "first-app")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("heading", name="No traces yet")).to_have_count(0)


def test_the_create_a_key_button_goes_to_the_keys_page(empty: WebServer, page: Page):
    empty.sign_in(page)
    page.goto(empty.url + "/")
    page.get_by_role("link", name="Create an API key").click()
    expect(page).to_have_url(empty.url + "/keys")
