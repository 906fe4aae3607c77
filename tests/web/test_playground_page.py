"""The prompt playground in a browser, against a real ``junjo serve`` whose playground
calls an OpenAI-compatible server on loopback (tests/support/fake_llm.py) through LiteLLM.
An LLM span sent through real ingestion (OpenInference attributes) is opened, its prompt
edited, and run against two models side by side."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind
from playwright.sync_api import Page, expect

from tests.playground.conftest import write_config
from tests.support.fake_llm import MODELS, FakeLLM
from tests.support.web import WebServer, start_web_server
from tests.web.axe import assert_accessible
from tests.web.seed import MINUTE, S, emit, http_provider
from tests.web.themes import assert_accessible_in_both_themes

FIRST_RUN_MS = 30_000
QUESTION = "What is the capital of France?"
LLM_ATTRIBUTES = {
    "openinference.span.kind": "LLM",
    "llm.provider": "openai",
    "llm.model_name": "gpt-4o-mini",
    "llm.invocation_parameters": json.dumps({"temperature": 0.2, "max_tokens": 64}),
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "You answer in one word.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.content": QUESTION,
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "gpt-4o-mini says: Paris",
    "llm.token_count.prompt": 21,
    "llm.token_count.completion": 3,
    "llm.token_count.total": 24,
}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
# OTel GenAI (1.37+): system instructions, input messages with a tool call and its result.
GENAI_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.request.temperature": 0.7,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "gen_ai.input.messages": json.dumps([
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_1", "name": "get_weather",
             "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [
            {"type": "tool_call_response", "id": "call_1", "response": "18 C, sunny"}]},
    ]),
    "gen_ai.output.messages": json.dumps([
        {"role": "assistant", "finish_reason": "stop",
         "parts": [{"type": "text", "content": "Sunny, 18 C."}]},
    ]),
    "gen_ai.tool.definitions": json.dumps([WEATHER_TOOL]),
}  # fmt: skip


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[WebServer]:
    folder = tmp_path_factory.mktemp("playground-web")
    web = start_web_server(folder / "data", "--config", str(write_config(folder, fake_llm)))
    app = http_provider(web, "assistant")
    call = S("ChatCompletion", 900, 5, kind=SpanKind.CLIENT, attributes=LLM_ATTRIBUTES)
    tool_call = S("chat gpt-4o-mini", 300, 5, kind=SpanKind.CLIENT, attributes=GENAI_ATTRIBUTES)
    trace_id = emit(app, S("answer", 1000, children=[call, tool_call]), time.time_ns() - MINUTE)
    app.shutdown()
    web.wait_indexed()
    spans = web.get(f"/api/v1/traces/{trace_id}")["spans"]
    web.extra["trace_id"] = trace_id
    web.extra["span_id"] = next(s["span_id"] for s in spans if s["name"] == "ChatCompletion")
    web.extra["tools_span_id"] = next(s["span_id"] for s in spans if s["name"] == tool_call.name)
    yield web
    web.server.stop()
    web.server.kill()


def open_span(page: Page, web: WebServer, studio_path: bool = False) -> None:
    trace_id, span_id = web.extra["trace_id"], web.extra["span_id"]
    if studio_path:
        page.goto(f"{web.url}/traces/assistant/{trace_id}/{span_id}/prompt-playground")
    else:
        page.goto(f"{web.url}/playground?trace={trace_id}&span={span_id}&service=assistant")
    expect(page.get_by_role("heading", name="Prompt playground")).to_be_visible()


def test_edit_the_prompt_and_compare_two_models(signed_in: Page, web: WebServer, screenshots: Path):
    page = signed_in
    open_span(page, web)
    # Pre-filled from the span: every message, the model (its provider, OpenAI, is not
    # configured here: the configured one is proposed), its parameters, the original output.
    expect(page.get_by_label("Content of message 1")).to_have_value("You answer in one word.")
    expect(page.get_by_label("Content of message 2")).to_have_value(QUESTION)
    run1 = page.get_by_role("region", name="Run 1")
    expect(run1.get_by_label("Model")).to_have_value("openai_compatible/gpt-4o-mini")
    expect(run1.get_by_label("Temperature")).to_have_value("0.2")
    expect(run1.get_by_label("Max tokens")).to_have_value("64")
    expect(page.get_by_test_id("original-output")).to_have_text("gpt-4o-mini says: Paris")
    original = page.get_by_role("region", name="Original")
    expect(original.locator(".pg-measures")).to_contain_text("Cost$0.00000")  # 21 in, 3 out

    page.get_by_label("Content of message 2").fill("What is the capital of Italy?")
    page.get_by_role("button", name="Add a run").click()
    run2 = page.get_by_role("region", name="Run 2")
    run2.get_by_label("Model").fill("openai_compatible/fake-small")
    page.get_by_role("button", name="Run all 2").click()

    # The first run of a server may wait for LiteLLM's import (seconds on a busy machine).
    expect(run1.get_by_test_id("run-output")).to_have_text(
        "gpt-4o-mini says: What is the capital of Italy?", timeout=FIRST_RUN_MS
    )
    expect(run2.get_by_test_id("run-output")).to_have_text(
        "fake-small says: What is the capital of Italy?"
    )
    # Measures: latency, tokens, a cost for the model the price map knows, finish reason.
    expect(run1.get_by_text("Done")).to_be_visible()
    expect(run1.locator(".pg-measures")).to_contain_text("Tokens in / out6 / 16")
    expect(run1.locator(".pg-measures")).to_contain_text("$0.00")
    expect(run2.locator(".pg-measures")).to_contain_text("unknown")
    expect(run1.locator(".pg-measures")).to_contain_text("stop")
    # The diff against the original output: "Paris" went, the new words came.
    expect(run1.locator(".pg-diff del")).to_have_text("Paris")
    expect(run1.locator(".pg-diff ins")).to_contain_text("Italy?")
    # The models compared are in the URL.
    assert "models=openai_compatible%2Fgpt-4o-mini%2Copenai_compatible%2Ffake-small" in page.url
    assert_accessible_in_both_themes(page)
    page.screenshot(path=screenshots / "playground-compare.png", full_page=True)

    # Each run is a trace of junjo-playground, linked from its column.
    run1.get_by_role("link", name="This run's trace").click()
    expect(page).to_have_url(re.compile(r"/traces/junjo-playground/[0-9a-f]{32}/[0-9a-f]{16}$"))


def test_reorder_remove_and_add_messages(signed_in: Page, web: WebServer):
    page = signed_in
    open_span(page, web, studio_path=True)
    expect(page.get_by_label("Content of message 2")).to_have_value(QUESTION)
    page.get_by_role("button", name="Move message 2 up").click()
    expect(page.get_by_label("Content of message 1")).to_have_value(QUESTION)
    expect(page.get_by_label("Role").first).to_have_value("user")
    page.get_by_role("button", name="Remove message 2").click()
    expect(page.get_by_label("Content of message 2")).to_have_count(0)
    page.get_by_role("button", name="Add message").click()
    expect(page.get_by_label("Content of message 2")).to_have_value("")
    expect(page.get_by_label("Role").nth(1)).to_have_value("assistant")  # after a user's
    page.get_by_label("Role").nth(1).select_option("user")
    page.get_by_label("Content of message 2").fill("Say it again.")
    page.get_by_role("button", name="Run", exact=True).click()
    run1 = page.get_by_role("region", name="Run 1")
    expect(run1.get_by_test_id("run-output")).to_have_text(
        "gpt-4o-mini says: Say it again.", timeout=FIRST_RUN_MS
    )


def test_an_unconfigured_provider_says_how_to_configure_it(signed_in: Page, web: WebServer):
    page = signed_in
    open_span(page, web)
    run1 = page.get_by_role("region", name="Run 1")
    run1.get_by_label("Response format").select_option("schema")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("write the schema under JSON schema")
    run1.get_by_label("Response format").select_option("text")
    run1.get_by_label("Model").fill("anthropic/claude-sonnet-4-5")
    note = run1.get_by_role("note")
    expect(note).to_contain_text("Anthropic is not configured")
    expect(note).to_contain_text("ANTHROPIC_API_KEY")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(run1.get_by_role("alert")).to_contain_text(
        "Anthropic is not configured", timeout=FIRST_RUN_MS
    )
    assert_accessible(page)


def test_a_genai_span_with_tool_calls_is_replayed_whole(
    signed_in: Page, web: WebServer, fake_llm: FakeLLM
):
    page = signed_in
    trace_id, span_id = web.extra["trace_id"], web.extra["tools_span_id"]
    page.goto(f"{web.url}/playground?trace={trace_id}&span={span_id}")
    expect(page.get_by_label("Content of message 1")).to_have_value("Be brief.")
    expect(page.get_by_label("Content of message 2")).to_have_value("Weather in Paris?")
    expect(page.get_by_label("Role").nth(2)).to_have_value("assistant")
    expect(page.get_by_label("Tool calls (JSON)")).to_have_value(
        re.compile(r'"name": "get_weather"')
    )
    expect(page.get_by_label("Role").nth(3)).to_have_value("tool")
    expect(page.get_by_label("Answers tool call id")).to_have_value("call_1")
    expect(page.get_by_label("Content of message 4")).to_have_value("18 C, sunny")
    expect(page.get_by_label("Tools (JSON)")).to_have_value(re.compile(r'"get_weather"'))
    run1 = page.get_by_role("region", name="Run 1")
    expect(run1.get_by_label("Temperature")).to_have_value("0.7")
    expect(page.get_by_test_id("original-output")).to_have_text("Sunny, 18 C.")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(run1.get_by_test_id("run-output")).to_have_text(
        "gpt-4o-mini says: Weather in Paris?", timeout=FIRST_RUN_MS
    )
    sent = fake_llm.requests[-1]
    assert sent["tools"] == [WEATHER_TOOL]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool"]
    assert sent["messages"][2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert sent["messages"][3]["tool_call_id"] == "call_1"
    assert_accessible(page)


def test_a_slow_run_can_be_stopped(signed_in: Page, web: WebServer):
    page = signed_in
    open_span(page, web)
    run1 = page.get_by_role("region", name="Run 1")
    run1.get_by_label("Model").fill("openai_compatible/fake-slow")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(run1.get_by_text("Running…")).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    expect(run1.get_by_role("alert")).to_have_text("Stopped.")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible()


def test_the_playground_without_a_span(signed_in: Page, web: WebServer):
    page = signed_in
    page.goto(web.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Prompt playground")).to_be_visible()
    expect(page.get_by_role("region", name="Original")).to_have_count(0)
    # The model fields suggest what the configured provider lists (kept 15 min; refreshable).
    run1 = page.get_by_role("region", name="Run 1")
    expect(run1.get_by_text(f"{len(MODELS)} known")).to_be_visible()
    page.get_by_role("button", name="Refresh model lists").click()
    expect(page.get_by_role("button", name="Refresh model lists")).to_be_visible()
    expect(page.locator("#pg-models option")).to_have_count(len(MODELS))
    page.get_by_label("Content of message 1").fill("Hello")
    run1.get_by_label("Model").fill("openai_compatible/fake-reasoner")
    page.get_by_label("Content of message 1").press("Control+Enter")
    expect(run1.get_by_test_id("run-output")).to_have_text(
        "fake-reasoner says: Hello", timeout=FIRST_RUN_MS
    )
    run1.get_by_text("Reasoning", exact=True).click()
    expect(run1.locator(".pg-reasoning pre")).to_have_text("Let me think about it.")
    assert_accessible(page)
