"""The API keys page in a real browser against a real ``junjo serve``: a new key is shown
once with snippets for this server's real endpoints, it ingests, and deleting it (after a
confirmation) makes ingestion refuse it."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from playwright.sync_api import Page, expect

from tests.support.export import sdk_spans
from tests.support.wait import wait_until
from tests.support.web import WebServer
from tests.web.axe import assert_accessible
from tests.web.themes import assert_accessible_in_both_themes


def create_key(page: Page, name: str, scope: str = "Ingest") -> str:
    page.get_by_label("Name").fill(name)
    page.get_by_role("radio", name=re.compile(f"^{scope}")).check()
    page.get_by_role("button", name="Create key").click()
    heading = page.get_by_role("heading", name=f"Key “{name}” created")
    expect(heading).to_be_focused()
    return page.get_by_test_id("new-key").inner_text()


def key_row(page: Page, name: str):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))


def test_a_new_key_is_shown_once_with_snippets_for_this_server(signed_in: Page, web: WebServer):
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web.url)
    config = httpx.get(web.url + "/api/config").json()
    page.goto(web.url + "/keys")
    expect(key_row(page, "exporter")).to_be_visible()
    assert_accessible_in_both_themes(page)

    key = create_key(page, "billing-service")
    assert re.fullmatch(r"[A-Za-z0-9]{64}", key), key
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key

    grpc = config["otlp_endpoint"].removeprefix("grpc://")
    junjo = page.get_by_test_id("snippet-junjo").inner_text()
    assert f'endpoint="{grpc}"' in junjo and f'api_key="{key}"' in junjo
    otel_grpc = page.get_by_test_id("snippet-otel-grpc").inner_text()
    assert f'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://{grpc}"' in otel_grpc
    assert f"x-junjo-api-key={key}" in otel_grpc
    otel_http = page.get_by_test_id("snippet-otel-http").inner_text()
    assert f'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="{config["otlp_http_endpoint"]}"' in otel_http
    assert config["otlp_http_endpoint"] == web.url + "/v1/traces"
    snippet = page.get_by_role("figure", name="Any OpenTelemetry app, OTLP/HTTP (protobuf or JSON)")
    snippet.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == otel_http
    assert_accessible_in_both_themes(page)

    row = key_row(page, "billing-service")
    expect(row).to_contain_text(key[:8] + "…")
    expect(row).to_contain_text("ingest")
    expect(row).not_to_contain_text(key)  # the list never shows the whole key
    page.get_by_role("button", name="Done, I have copied it").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    expect(page.get_by_label("Name")).to_be_focused()
    page.reload()
    expect(key_row(page, "billing-service")).to_be_visible()
    expect(page.get_by_text(key)).to_have_count(0)  # shown once: gone after a reload


def test_the_otel_snippets_as_shown_ingest_and_the_list_says_when_the_key_was_used(
    signed_in: Page, web: WebServer
):
    page = signed_in
    page.goto(web.url + "/keys")
    create_key(page, "sdk-app")
    last_used = key_row(page, "sdk-app").get_by_role("cell").nth(4)
    expect(last_used).to_have_text("never")
    # The exporters are configured from the snippets' text alone, as an app would be.
    http_endpoint, http_header = snippet_settings(page, "otel-http")
    grpc_endpoint, grpc_header = snippet_settings(page, "otel-grpc")
    exporters = [
        HttpSpanExporter(endpoint=http_endpoint, headers=dict([http_header]), timeout=10),
        GrpcSpanExporter(endpoint=grpc_endpoint, headers=(grpc_header,), insecure=True, timeout=10),
    ]
    before = web.server.ingest_status(web.keys.read)["accepted"]["spans"]
    for exporter in exporters:
        try:
            assert exporter.export(sdk_spans(1, service="keys-page")).name == "SUCCESS"
        finally:
            exporter.shutdown()
    wait_until(lambda: web.server.ingest_status(web.keys.read)["accepted"]["spans"] == before + 2)
    page.reload()
    expect(last_used).to_have_text(re.compile(r"^\d+ s ago$"))


def snippet_settings(page: Page, snippet_id: str) -> tuple[str, tuple[str, str]]:
    """(endpoint, (header, value)) of an OTEL_* snippet on the page, as a shell would read it."""
    text = page.get_by_test_id(f"snippet-{snippet_id}").inner_text()
    # Pasted into a shell, as a user would: what the app started after it sees.
    shown = subprocess.run(
        ["bash", "-c", text + "\nenv -0"], capture_output=True, text=True, check=True, env={}
    ).stdout
    pairs = (entry.split("=", 1) for entry in shown.split("\0") if "=" in entry)
    settings = dict(pairs)
    header, value = settings["OTEL_EXPORTER_OTLP_TRACES_HEADERS"].split("=", 1)
    return settings["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], (header, value)


@pytest.mark.allow_console(r"status of 422")
def test_a_blank_name_is_refused_with_the_servers_words(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/keys")
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("name: API key name cannot be empty")
    expect(page.get_by_label("Name")).to_be_focused()
    assert_accessible(page)


def test_a_read_key_comes_with_the_cli_setup(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/keys")
    key = create_key(page, "laptop CLI", scope="Read")
    cli = page.get_by_test_id("snippet-cli").inner_text()
    assert f'JUNJO_SERVER="{web.url}"' in cli and f'JUNJO_API_KEY="{key}"' in cli
    expect(key_row(page, "laptop CLI")).to_contain_text("read")
    listed = httpx.get(
        web.url + "/api/v1/traces", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert listed.status_code == 200


def test_deleting_a_key_asks_first_then_ingestion_refuses_it(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/keys")
    key = create_key(page, "short-lived")
    page.get_by_role("button", name="Done, I have copied it").click()
    row = key_row(page, "short-lived")
    row.get_by_role("button", name="Delete key short-lived").click()
    dialog = page.get_by_role("dialog", name="Delete this API key?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"“short-lived” ({key[:8]}…)")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    assert_accessible(page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()

    row.get_by_role("button", name="Delete key short-lived").click()
    dialog.get_by_role("button", name="Delete key").click()
    expect(dialog).to_be_hidden()
    expect(row).to_have_count(0)
    expect(page.get_by_role("heading", name="Keys", exact=True)).to_be_focused()
    exported = httpx.post(
        web.url + "/v1/traces",
        content=b"{}",
        headers={"Content-Type": "application/json", "x-junjo-api-key": key},
        timeout=10,
    )
    assert exported.status_code == 401
    page.reload()
    expect(key_row(page, "exporter")).to_be_visible()
    expect(key_row(page, "short-lived")).to_have_count(0)
