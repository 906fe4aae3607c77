"""The trace view (/traces/:service/:traceId/:spanId?) against a real ``junjo serve``, seeded
through real ingestion: the junjo SDK's workflows (a concurrent group, an LLM call, a failure)
over gRPC, OTel SDK spans over HTTP (LLM conversations in both conventions, odd data, markup
in names) and a 10,000-span trace posted as OTLP/HTTP protobuf."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from playwright.sync_api import Page, expect

from tests.support.big_trace import big_trace_batches, open_trace_ms, scroll_frame_ms
from tests.support.export import http_exporter, post_otlp, tracer_provider
from tests.support.otlp_builders import (
    junjo_workflow_trace,
    make_request,
    make_resource_spans,
    make_span,
    new_span_id,
    new_trace_id,
)
from tests.support.web import WebServer
from tests.web.axe import assert_accessible

pytestmark = pytest.mark.slow

XSS = "<img src=x onerror=alert(1)>"
UNICODE = "寿司 🍣 naïve — ünïcödé ‮rtl‬"
HUGE = 50_000
BIG = 10_000
MS = 1_000_000


def _hex(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def _text_part(text: str) -> dict[str, str]:
    return {"type": "text", "content": text}


def _seed_otel(web: WebServer) -> dict[str, Any]:
    """Spans made by the OTel SDK, exported over OTLP/HTTP with the ingest key."""
    found: dict[str, Any] = {}
    provider = tracer_provider("web-otel", http_exporter(web.url, web.keys.ingest))
    tracer = provider.get_tracer("web-tests", "1.2.3")
    with tracer.start_as_current_span("assistant-turn") as root:
        with tracer.start_as_current_span("chat gpt-web", kind=SpanKind.CLIENT) as genai:
            genai.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-web", "gen_ai.request.temperature": 0.3,
                "gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 9,
                "gen_ai.system_instructions": json.dumps([_text_part("You are terse.")]),
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [_text_part("Where is order 7?")]}]),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [_text_part("It ships today.")],
                      "finish_reason": "stop"}]),
            })  # fmt: skip
        with tracer.start_as_current_span("ChatCompletion") as oi:
            call = "llm.output_messages.0.message.tool_calls.0.tool_call.function"
            oi.set_attributes({
                "openinference.span.kind": "LLM", "llm.model_name": "oi-model",
                "llm.invocation_parameters": json.dumps({"temperature": 0.7, "max_tokens": 64}),
                "llm.token_count.prompt": 5, "llm.token_count.completion": 3,
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "Use the tools.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "Weather in Oslo?",
                "llm.output_messages.0.message.role": "assistant",
                f"{call}.name": "get_weather", f"{call}.arguments": '{"city": "Oslo"}',
            })  # fmt: skip
        with tracer.start_as_current_span("chat legacy-genai", kind=SpanKind.CLIENT) as events:
            # GenAI before 1.37: a message per event.
            events.set_attributes({"gen_ai.system": "openai", "gen_ai.request.model": "old-1"})
            events.add_event("gen_ai.user.message", {"content": "Convert 5 km"})
            events.add_event("gen_ai.tool.message", {"content": "5 km = 3.1 mi"})
            events.add_event("gen_ai.choice", {"message": json.dumps({"content": "3.1 miles"})})
    found["llm"] = _hex(root)[0]
    found["genai"], found["openinference"] = _hex(genai)[1], _hex(oi)[1]
    found["genai-events"] = _hex(events)[1]

    with tracer.start_as_current_span(XSS) as xss:
        xss.set_attribute("note", "<script>window.__pwned = 1</script>")
    found["xss"] = _hex(xss)

    # Odd data: an orphan, a zero-duration span, a child outside its parent, a huge value,
    # unicode, a legacy (SDK <= 0.62) and a contract-3 span, an exception with a stack.
    base = root.start_time or 0
    odd_root = tracer.start_span("odd-root", start_time=base)
    context = trace.set_span_in_context(odd_root)
    trace_id = odd_root.get_span_context().trace_id
    zero = tracer.start_span("instant", context=context, start_time=base + MS)
    zero.end(end_time=base + MS)
    skew = tracer.start_span("skewed-child", context=context, start_time=base - 5 * MS)
    skew.end(end_time=base + 40 * MS)
    huge = tracer.start_span(UNICODE, context=context, start_time=base + 2 * MS)
    huge.set_attribute("big.value", "x" * (HUGE - 4) + "tail")
    huge.set_attribute("json.value", json.dumps({"nested": {"list": [1, 2, 3]}, "ok": True}))
    huge.set_attributes({"list.value": ["a", "b", "c"], "flag.value": False, "ratio.value": 0.5,
                         "empty.value": ""})  # fmt: skip
    huge.end(end_time=base + 3 * MS)
    legacy = tracer.start_span("LegacyWorkflow", context=context, start_time=base + 4 * MS)
    legacy.set_attributes({"junjo.span_type": "workflow", "junjo.id": "legacy-1"})
    legacy.end(end_time=base + 6 * MS)
    v3 = tracer.start_span("AgentStore", context=context, start_time=base + 6 * MS)
    v3.set_attributes({"junjo.telemetry.contract_version": 3, "junjo.span_type": "node",
                       "junjo.agent.store.id": "agent-store-1"})  # fmt: skip
    v3.end(end_time=base + 7 * MS)
    failing = tracer.start_span("failing-step", context=context, start_time=base + 8 * MS)
    try:
        raise ValueError("bad <b>input</b>")
    except ValueError as exc:
        failing.record_exception(exc)
        failing.set_status(Status(StatusCode.ERROR, "bad input"))
    failing.end(end_time=base + 9 * MS)
    linked = tracer.start_span(
        "linked-step",
        context=context,
        start_time=base + 12 * MS,
        links=[trace.Link(xss.get_span_context(), {"link.reason": "follows"})],
    )
    linked.end(end_time=base + 13 * MS)
    lost_parent = trace.set_span_in_context(
        NonRecordingSpan(SpanContext(trace_id, 0xDEAD, is_remote=True, trace_flags=TraceFlags(1)))
    )
    orphan = tracer.start_span("orphan-span", context=lost_parent, start_time=base + 10 * MS)
    orphan.end(end_time=base + 11 * MS)
    backend_provider = tracer_provider("web-backend", http_exporter(web.url, web.keys.ingest))
    backend = backend_provider.get_tracer("web-tests")
    call = backend.start_span("backend-call", context=context, start_time=base + 14 * MS)
    call.end(end_time=base + 15 * MS)
    backend_provider.shutdown()
    odd_root.end(end_time=base + 20 * MS)
    found["odd"] = f"{trace_id:032x}"
    provider.shutdown()
    return found


@pytest.fixture(scope="module")
def data(web: WebServer) -> dict[str, Any]:
    from scripts.sdk_e2e.run import run_shared_store_workload, run_workload

    found = _seed_otel(web)
    v3 = run_shared_store_workload(web.server.grpc_target, web.keys.ingest, "junjo-web-v3")
    found["v3"] = {s["name"]: s["trace_id"] for s in v3 if not s["parent_span_id"]}
    manifest = run_workload(web.server.grpc_target, web.keys.ingest, service_name="junjo-web")
    for label, name in (("ticket", "Support Ticket Triage"), ("order", "Order Enrichment")):
        found[label] = next(
            s["trace_id"]
            for s in manifest["spans"]
            if s["name"] == name and not s["parent_span_id"]
        )
    contract2 = junjo_workflow_trace(nodes=3)
    loop_trace, first, second = new_trace_id(), new_span_id(), new_span_id()
    loop = [  # each the other's parent: a broken sender
        make_span(trace_id=loop_trace, span_id=first, parent_span_id=second, name="loop-a"),
        make_span(trace_id=loop_trace, span_id=second, parent_span_id=first, name="loop-b"),
    ]
    requests = [
        make_request([make_resource_spans(contract2, service_name="contract-2")]),
        make_request([make_resource_spans(loop, service_name=None)]),  # no service.name
    ]
    post_otlp(web.url, web.keys.ingest, requests)
    found["contract2"] = contract2[0].trace_id.hex()
    found["loop"] = loop_trace.hex()
    big = big_trace_batches(BIG)
    post_otlp(web.url, web.keys.ingest, big)
    found["big"] = big[0].resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    web.wait_indexed()
    return found


def _open(page: Page, web: WebServer, trace_id: str, span_id: str = "", query: str = "") -> None:
    path = f"/traces/-/{trace_id}" + (f"/{span_id}" if span_id else "") + query
    page.goto(web.url + path)
    expect(page.locator(".trace-tree [role=treeitem]").first).to_be_visible()


def _selected(page: Page):
    return page.locator(".trace-tree [role=treeitem][aria-selected=true]")


def _row(page: Page, name: str):
    return page.locator(".trace-tree [role=treeitem]", has=page.get_by_text(name, exact=True))


def _outline(web: WebServer, trace_id: str) -> dict[str, dict]:
    spans = web.get(f"/api/v1/traces/{trace_id}/outline")["spans"]
    return {span["name"]: span for span in spans}


def _bar(page: Page, name: str) -> tuple[float, float]:
    box = _row(page, name).locator(".trace-bar").bounding_box()
    assert box is not None
    return box["x"], box["x"] + box["width"]


def test_a_deep_link_opens_the_trace_with_that_span_selected(
    signed_in: Page, web: WebServer, data: dict
):
    span = _outline(web, data["ticket"])["DetectSentimentNode"]
    path = f"/traces/junjo-web/{data['ticket']}/{span['id']}"
    signed_in.goto(web.url + path)
    expect(_selected(signed_in)).to_contain_text("DetectSentimentNode")
    expect(signed_in.locator("#span-title")).to_have_text("DetectSentimentNode")
    expect(signed_in.get_by_role("heading", level=1)).to_have_text("Support Ticket Triage")
    assert signed_in.url == web.url + path
    service = signed_in.locator(".trace-summary").get_by_role("link", name="junjo-web")
    expect(service).to_have_attribute("href", "/traces?service=junjo-web")
    assert_accessible(signed_in)


def test_the_waterfall_shows_concurrent_spans_as_overlapping_bars(
    signed_in: Page, web: WebServer, data: dict
):
    _open(signed_in, web, data["ticket"])
    count, sentiment, analyze = (_bar(signed_in, n) for n in
                                 ("CountWordsNode", "DetectSentimentNode", "Analyze"))  # fmt: skip
    assert count[0] < sentiment[1] and sentiment[0] < count[1]  # they overlap in time
    for start, end in (count, sentiment):
        assert analyze[0] - 1 <= start and end <= analyze[1] + 1
    normalize, retrieve = _bar(signed_in, "NormalizeNode"), _bar(signed_in, "RetrieveContextNode")
    assert normalize[1] <= retrieve[0] + 1  # one after the other
    root = _bar(signed_in, "Support Ticket Triage")
    assert root[1] - root[0] > 10 * (count[1] - count[0]) / 10  # the root spans the axis
    assert_accessible(signed_in)


def test_next_and_previous_error_move_the_selection(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["order"])
    errors = [n for n, s in _outline(web, data["order"]).items() if s["error"]]
    assert "CheckInventoryNode" in errors
    visited = []
    for _ in range(len(errors)):
        signed_in.get_by_role("button", name="Next error").click()
        expect(_selected(signed_in)).to_have_class(re.compile(r"\bis-error\b"))
        visited.append(_selected(signed_in).locator(".trace-span-name").inner_text())
    assert sorted(visited) == sorted(errors)  # each error once, then it wraps
    signed_in.get_by_role("button", name="Previous error").click()
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(visited[-2])
    signed_in.keyboard.press("n")
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(visited[-1])
    expect(signed_in.locator(".exception-type").first).to_be_visible()


def test_the_keyboard_moves_collapses_and_expands(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["ticket"])
    rows = signed_in.locator(".trace-tree [role=treeitem]")
    names = rows.locator(".trace-span-name").all_inner_texts()
    spans = _outline(web, data["ticket"])
    signed_in.keyboard.press("j")
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(names[1])
    assert signed_in.url.endswith(spans[names[1]]["id"])
    signed_in.keyboard.press("j")
    signed_in.keyboard.press("k")
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(names[1])
    signed_in.locator(".trace-tree").focus()
    signed_in.keyboard.press("ArrowUp")
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(names[0])
    signed_in.keyboard.press("ArrowLeft")  # collapses the root
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("aria-expanded", "false")
    signed_in.keyboard.press("ArrowRight")
    expect(rows).to_have_count(len(names))
    signed_in.keyboard.press("ArrowRight")  # to the first child
    expect(_selected(signed_in).locator(".trace-span-name")).to_have_text(names[1])
    assert_accessible(signed_in)  # with the tree focused
    signed_in.get_by_role("button", name="Collapse all").click()
    expect(rows).to_have_count(1)
    expect(_selected(signed_in)).to_contain_text(names[0])  # the selection moved up
    signed_in.get_by_role("button", name="Expand all").click()
    expect(rows).to_have_count(len(names))


def test_search_shows_matches_with_their_ancestors(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["ticket"])
    signed_in.get_by_label("Search spans").fill("fake-sentiment-1")  # an attribute value
    rows = signed_in.locator(".trace-tree [role=treeitem] .trace-span-name")
    expect(rows).to_have_text(
        ["Support Ticket Triage", "Analyze", "DetectSentimentNode", "fake_llm.generate_content"]
    )
    expect(signed_in.locator(".span-row.is-match")).to_have_count(1)
    expect(signed_in).to_have_url(f"{web.url}/traces/-/{data['ticket']}?q=fake-sentiment-1")
    signed_in.reload()
    expect(rows).to_have_count(4)
    signed_in.get_by_label("Search spans").fill("no span has this")
    expect(signed_in.get_by_text("No span matches")).to_be_visible()


def test_an_openinference_call_reads_as_a_conversation(signed_in: Page, web: WebServer, data):
    _open(signed_in, web, data["llm"], data["openinference"])
    conversation = signed_in.locator(".conversation")
    expect(conversation).to_contain_text("oi-model")
    expect(conversation.locator(".message-role strong")).to_have_text(
        ["System", "User", "Assistant"]
    )
    expect(conversation.locator(".message-text")).to_have_text(
        ["Use the tools.", "Weather in Oslo?", '[tool call get_weather({"city": "Oslo"})]']
    )
    expect(conversation.locator(".parameters")).to_contain_text("temperature")
    expect(conversation).to_contain_text("5 in · 3 out · 8 total")
    # The junjo SDK app's call: input.value / output.value.
    span = _outline(web, data["ticket"])["fake_llm.generate_content"]
    _open(signed_in, web, data["ticket"], span["id"])
    expect(conversation.locator(".message-role strong")).to_have_text(["Input", "Output"])
    expect(conversation).to_contain_text("fake-sentiment-1")
    assert_accessible(signed_in)


def test_a_genai_call_reads_as_a_conversation(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["llm"], data["genai"])
    conversation = signed_in.locator(".conversation")
    expect(conversation.locator(".message-text")).to_have_text(
        ["You are terse.", "Where is order 7?", "It ships today."]
    )
    expect(conversation.locator(".message-role strong")).to_have_text(
        ["System", "User", "Assistant"]
    )
    expect(conversation).to_contain_text("gpt-web")
    expect(conversation).to_contain_text("21 in · 9 out · 30 total")
    expect(conversation.locator(".parameters")).to_contain_text("0.3")
    signed_in.emulate_media(color_scheme="dark")
    assert_accessible(signed_in)
    _open(signed_in, web, data["llm"], data["genai-events"])  # a message per event
    expect(conversation.locator(".message-role strong")).to_have_text(["User", "Tool", "Assistant"])
    expect(conversation.locator(".message-text")).to_have_text(
        ["Convert 5 km", "5 km = 3.1 mi", "3.1 miles"]
    )
    expect(conversation).to_contain_text("old-1")


def test_markup_in_span_data_is_shown_as_text(signed_in: Page, web: WebServer, data: dict):
    trace_id, span_id = data["xss"]
    _open(signed_in, web, trace_id, span_id)
    expect(_selected(signed_in)).to_contain_text(XSS)
    expect(signed_in.locator("#span-title")).to_have_text(XSS)
    expect(signed_in.get_by_text("<script>window.__pwned = 1</script>")).to_be_visible()
    assert signed_in.locator("img").count() == 0
    assert signed_in.locator("main script").count() == 0
    assert signed_in.evaluate("window.__pwned") is None


def test_odd_data_is_shown_and_marked(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["odd"])
    expect(_row(signed_in, "orphan-span")).to_contain_text("parent missing")
    expect(_row(signed_in, "orphan-span")).to_have_attribute("aria-level", "1")
    expect(_row(signed_in, "skewed-child")).to_contain_text("skew")
    expect(_row(signed_in, "instant")).to_contain_text("0 ns")
    bar = _row(signed_in, "instant").locator(".trace-bar").bounding_box()
    assert bar is not None and bar["width"] >= 2  # zero duration, still visible
    expect(_row(signed_in, "LegacyWorkflow")).to_contain_text("workflow")
    expect(_row(signed_in, "backend-call").locator(".trace-service")).to_have_text("web-backend")
    expect(signed_in.locator(".trace-service")).to_have_count(1)  # the others: the root's
    _row(signed_in, UNICODE).click()
    expect(signed_in.locator("#span-title")).to_have_text(UNICODE)
    value = signed_in.locator("table.attrs tr", has=signed_in.get_by_text("big.value"))
    expect(value).not_to_contain_text("tail")
    value.get_by_role("button", name=f"Show all {HUGE:,} characters").click()
    expect(value).to_contain_text("xtail")
    json_value = signed_in.locator("table.attrs tr", has=signed_in.get_by_text("json.value"))
    expect(json_value.locator("details.json").first).to_have_attribute("open", "")
    for key, shown in (("list.value", "[ 3 items ]"), ("flag.value", "false"),
                       ("ratio.value", "0.5"), ("empty.value", "(empty)")):  # fmt: skip
        row = signed_in.locator("table.attrs tr", has=signed_in.get_by_text(key, exact=True))
        expect(row.locator("td")).to_contain_text(shown)
    signed_in.get_by_label("Filter attributes").fill("json")
    expect(signed_in.locator("table.attrs[aria-label=Attributes] tr")).to_have_count(1)
    _row(signed_in, "failing-step").click()
    expect(signed_in.locator(".exception-message")).to_have_text("bad <b>input</b>")
    expect(signed_in.locator(".stacktrace")).to_contain_text("Traceback")
    assert signed_in.locator("b").count() == 0
    expect(signed_in.locator(".span-detail")).to_contain_text("web-tests")  # the scope
    assert_accessible(signed_in)
    signed_in.emulate_media(color_scheme="dark")
    assert_accessible(signed_in)  # badges on the selected row, in the dark theme too


def test_a_link_opens_the_linked_span(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["odd"])
    _row(signed_in, "linked-step").click()
    links = signed_in.get_by_role("region", name="Links (1)")
    expect(links).to_contain_text("follows")
    trace_id, span_id = data["xss"]
    links.get_by_role("link").click()
    expect(signed_in).to_have_url(f"{web.url}/traces/-/{trace_id}/{span_id}")
    expect(_selected(signed_in)).to_contain_text(XSS)


def test_a_contract_2_workflow(signed_in: Page, web: WebServer, data: dict):
    _open(signed_in, web, data["contract2"])
    expect(signed_in.locator(".trace-tree [role=treeitem]")).to_have_count(4)
    expect(signed_in.locator(".trace-type")).to_have_text(["workflow", "node", "node", "node"])


def test_contract_3_runs_sharing_a_store_overlap(signed_in: Page, web: WebServer, data: dict):
    """Two workflows run concurrently on one Store (junjo SDK 0.69, telemetry contract 3)."""
    _open(signed_in, web, data["v3"]["Shared Store Batch"])
    intake, audit = _bar(signed_in, "Shared Intake"), _bar(signed_in, "Shared Audit")
    assert intake[0] < audit[1] and audit[0] < intake[1]
    _open(signed_in, web, data["v3"]["Agent Desk"])
    _row(signed_in, "Desk Agent").click()
    expect(signed_in.locator("#span-title")).to_have_text("Desk Agent")
    expect(signed_in.locator("table.attrs[aria-label=Attributes]")).to_contain_text(
        "junjo.agent.application_store"
    )


def test_a_click_adds_a_history_entry_and_a_key_press_does_not(
    signed_in: Page, web: WebServer, data: dict
):
    _open(signed_in, web, data["ticket"])
    start = signed_in.url
    _row(signed_in, "Analyze").click()
    expect(_selected(signed_in)).to_contain_text("Analyze")
    signed_in.keyboard.press("j")
    expect(_selected(signed_in)).to_contain_text("CountWordsNode")
    signed_in.go_back()
    expect(signed_in).to_have_url(start)
    expect(_selected(signed_in)).to_contain_text("Support Ticket Triage")
    signed_in.go_forward()
    expect(_selected(signed_in)).to_contain_text("CountWordsNode")


def test_spans_that_are_each_others_parent_are_shown_at_the_root(
    signed_in: Page, web: WebServer, data: dict
):
    _open(signed_in, web, data["loop"])
    for name in ("loop-a", "loop-b"):
        expect(_row(signed_in, name)).to_contain_text("parent missing")
        expect(_row(signed_in, name)).to_have_attribute("aria-level", "1")
    expect(signed_in.get_by_text("root span missing")).to_be_visible()


def test_reload_adds_the_spans_that_arrived_since(signed_in: Page, web: WebServer):
    trace_id, root = new_trace_id(), new_span_id()
    first = make_span(trace_id=trace_id, span_id=root, name="early-root")
    late = make_span(trace_id=trace_id, parent_span_id=root, name="late-child")
    post_otlp(web.url, web.keys.ingest, [make_request([make_resource_spans([first])])])
    web.wait_indexed()
    _open(signed_in, web, trace_id.hex())
    rows = signed_in.locator(".trace-tree [role=treeitem]")
    expect(rows).to_have_count(1)
    post_otlp(web.url, web.keys.ingest, [make_request([make_resource_spans([late])])])
    web.wait_indexed()
    signed_in.get_by_role("button", name="Reload").click()
    expect(rows.locator(".trace-span-name")).to_have_text(["early-root", "late-child"])


@pytest.mark.allow_console("Failed to load resource.*404")  # the unknown trace's answer
def test_an_unknown_trace_says_so(signed_in: Page, web: WebServer):
    signed_in.goto(f"{web.url}/traces/-/{'ab' * 16}")
    expect(signed_in.get_by_role("alert")).to_contain_text("is not stored on this server")


def test_a_span_not_in_the_trace_says_so(signed_in: Page, web: WebServer, data: dict):
    signed_in.goto(f"{web.url}/traces/-/{data['ticket']}/{'cd' * 8}")
    expect(signed_in.get_by_role("status").first).to_contain_text("is not in this trace")
    expect(_selected(signed_in)).to_contain_text("Support Ticket Triage")


def test_copy_and_download_the_trace_as_otlp_json(
    signed_in: Page, web: WebServer, data: dict, tmp_path: Path
):
    signed_in.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web.url)
    _open(signed_in, web, data["odd"])
    signed_in.get_by_role("button", name="Copy as OTLP-JSON").click()
    expect(signed_in.get_by_role("button", name="Copied")).to_be_visible()
    copied = json.loads(signed_in.evaluate("navigator.clipboard.readText()"))
    assert copied == web.get(f"/api/v1/traces/{data['odd']}/otlp")
    names = {s["name"] for rs in copied["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"]}  # fmt: skip
    assert {"odd-root", "orphan-span", UNICODE, "backend-call"} <= names
    services = [rs["resource"]["attributes"][0] for rs in copied["resourceSpans"]]
    assert len(services) == 2  # a resource per service, as they were sent
    with signed_in.expect_download() as download:
        signed_in.get_by_role("link", name="Download OTLP-JSON").click()
    assert download.value.suggested_filename == f"trace-{data['odd']}.otlp.json"
    saved = tmp_path / "trace.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text()) == copied


def test_a_10000_span_trace_opens_fast_and_scrolls_smoothly(
    signed_in: Page, web: WebServer, data: dict
):
    url = f"{web.url}/traces/big-trace/{data['big']}"
    times = [open_trace_ms(signed_in, url) for _ in range(3)]
    spans = signed_in.locator(".trace-summary div", has=signed_in.get_by_text("Spans", exact=True))
    expect(spans.locator("dd")).to_have_text(f"{BIG:,}")
    # Only the rows in view are in the DOM.
    assert signed_in.locator(".trace-tree [role=treeitem]").count() < 100
    frame = scroll_frame_ms(signed_in)
    print(f"\n10k-span trace: open {statistics.median(times):.0f} ms (runs {times}),"
          f" scroll p95 frame {frame:.1f} ms")  # fmt: skip
    assert statistics.median(times) < 4000  # 2 s here; generous for a loaded CI machine
    assert frame < 100
    signed_in.get_by_label("Search spans").fill("step 4500 failed")  # an exception message
    expect(signed_in.locator(".trace-tree [role=treeitem] .trace-span-name")).to_have_text(
        ["big-root", "group-44", "step-44-54"]
    )
    signed_in.get_by_label("Search spans").press("Escape")  # clears the search
    expect(signed_in.locator(".trace-summary")).to_be_visible()
    assert "?q=" not in signed_in.url
    signed_in.locator(".trace-tree").focus()
    signed_in.keyboard.press("End")
    expect(_selected(signed_in)).to_be_visible()
    expect(_selected(signed_in)).to_contain_text(f"step-{(BIG - 2) // 101}-")
    # A deep link far down the tree scrolls it into view.
    span = next(s for s in _outline(web, data["big"]).values() if s["name"] == "step-80-50")
    signed_in.goto(f"{url}/{span['id']}")
    expect(_selected(signed_in)).to_be_in_viewport()
    expect(signed_in.locator("#span-title")).to_have_text("step-80-50")
