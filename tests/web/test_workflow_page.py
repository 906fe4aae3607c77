"""The workflow debugger in the browser, on runs of the real junjo SDK (tests/web/workflow_seed.py):
the graph as SVG with what ran, failed, was cancelled and never ran; node <-> span selection
both ways, in the URL; stepping through the state with the keyboard, the buttons and play,
each step the server's Before / After / Changes; concurrent writers interleaved; a shared
Store (contract 3); a deleted state change and its verdict; a legacy v1 graph."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.big_workflow import jump_ms, open_run_ms, run_url, send_big_workflow, step_ms
from tests.support.web import WebServer, start_web_server
from tests.web.axe import assert_accessible
from tests.web.themes import assert_accessible_in_both_themes
from tests.web.workflow_seed import SERVICE, V3_SERVICE, run_path, seed_workflows

pytestmark = pytest.mark.slow
# Bounds for a shared 2-core machine; docs/web.md has the measured times.
BIG_OPEN_MS = 15_000
BIG_STEP_MS = 1_000


@pytest.fixture(scope="module", autouse=True)
def runs(web: WebServer) -> dict[str, Any]:
    web.extra["runs"] = seed_workflows(web)
    return web.extra["runs"]


def node(page: Page, label: str):
    return page.locator("svg.wf-graph g.wf-node", has=page.locator(f"text='{label}'")).first


def api_run(web: WebServer, run: dict[str, Any]) -> dict[str, Any]:
    return web.get(f"/api/v1/traces/{run['trace_id']}/workflows/{run['span_id']}/run")


def span_id_of(run_view: dict[str, Any], name: str) -> str:
    return next(s["span_id"] for s in run_view["spans"] if s["name"] == name)


def test_the_graph_shows_what_ran_failed_was_cancelled_and_never_ran(signed_in: Page, web, runs):
    page = signed_in
    failed = runs["order"][-1]
    page.goto(web.url + run_path(SERVICE, failed))
    expect(page.get_by_role("heading", name="Workflow run: Order Enrichment")).to_be_visible()
    expect(page.locator("svg.wf-graph")).to_be_visible()
    assert node(page, "LoadOrderNode").get_attribute("data-status") == "executed"
    assert node(page, "CheckInventoryNode").get_attribute("data-status") == "failed"
    assert node(page, "ShippingQuoteNode").get_attribute("data-status") == "cancelled"
    assert node(page, "ConfirmOrderNode").get_attribute("data-status") == "not_run"
    # Styled, not only labelled: a failed node is drawn red, one that never ran dashed.
    red = (
        node(page, "CheckInventoryNode")
        .locator("rect")
        .last.evaluate("r => getComputedStyle(r).stroke")
    )
    ran = (
        node(page, "LoadOrderNode").locator("rect").last.evaluate("r => getComputedStyle(r).stroke")
    )
    dashed = (
        node(page, "ConfirmOrderNode")
        .locator("rect")
        .evaluate("r => getComputedStyle(r).strokeDasharray")
    )
    assert red != ran and dashed not in ("none", "")
    expect(node(page, "CheckInventoryNode")).to_have_attribute("aria-label", re.compile("failed"))
    # Its exception beside it: its type in the graph (the message in its name and title),
    # whole in the errors panel.
    failing = node(page, "CheckInventoryNode")
    expect(failing.locator(".wf-node-error")).to_have_text("InventoryServiceError")
    expect(failing).to_have_attribute("aria-label", re.compile("returned 503"))
    # The exception beside the graph, and the cancellation with its reason.
    errors = page.get_by_role("region", name="Errors")
    expect(errors).to_contain_text("InventoryServiceError")
    expect(errors).to_contain_text("503")
    expect(errors.locator("li", has_text="ShippingQuoteNode")).to_contain_text("cancelled")
    # The text alternative: every node in a list, with what happened to it.
    page.get_by_text("Nodes as a list").click()
    expect(page.locator(".wf-node-list")).to_contain_text("ConfirmOrderNode")
    expect(page.locator(".wf-node-list")).to_contain_text("did not run")
    assert_accessible_in_both_themes(page)


def test_the_traces_list_and_the_trace_view_open_the_run(signed_in: Page, web, runs):
    page = signed_in
    failed = runs["order"][-1]
    page.goto(f"{web.url}/traces?service={SERVICE}")
    page.get_by_role("link", name="Workflow run of Order Enrichment").first.click()
    expect(page.get_by_role("heading", name="Workflow run: Order Enrichment")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/workflows/"))
    # From a node's span in the trace view: its run, with that span selected.
    spans = web.get(f"/api/v1/traces/{failed['trace_id']}/outline")["spans"]
    check = next(span for span in spans if span["name"] == "CheckInventoryNode")
    page.goto(f"{web.url}/traces/{SERVICE}/{failed['trace_id']}/{check['id']}")
    page.get_by_role("link", name="In run “Order Enrichment”").click()
    expect(page).to_have_url(web.url + run_path(SERVICE, failed, check["id"]))
    assert node(page, "CheckInventoryNode").get_attribute("data-status") == "failed"
    # And the workflow span itself opens its run.
    page.goto(f"{web.url}/traces/{SERVICE}/{failed['trace_id']}/{failed['span_id']}")
    page.get_by_role("link", name="Open workflow run").click()
    expect(page).to_have_url(web.url + run_path(SERVICE, failed))


def test_a_node_selects_its_span_and_a_span_its_node_in_the_url(signed_in: Page, web, runs):
    page = signed_in
    triage = runs["triage"][-1]
    view = api_run(web, triage)
    page.goto(web.url + run_path(SERVICE, triage))
    node(page, "RetrieveContextNode").click()
    retrieve = span_id_of(view, "RetrieveContextNode")
    expect(page).to_have_url(re.compile(f"/{retrieve}"))
    spans = page.get_by_role("list", name="Spans of this run")
    expect(spans.locator(f"[data-span-id='{retrieve}']")).to_have_attribute("aria-current", "true")
    # The reverse: a span selects its node (a span inside a node: the node).
    spans.get_by_role("button", name=re.compile("^CountWordsNode")).click()
    expect(node(page, "CountWordsNode")).to_have_class(re.compile("wf-selected"))
    # A span inside the subflow opens it in place; the URL survives a reload.
    spans.get_by_role("button", name=re.compile("^DraftSummaryNode")).click()
    expect(node(page, "DraftSummaryNode")).to_have_class(re.compile("wf-selected"))
    page.reload()
    expect(node(page, "DraftSummaryNode")).to_have_class(re.compile("wf-selected"))
    expect(page.locator(".wf-state-caption")).to_contain_text("DraftSummaryNode started")
    # By keyboard: focus a node and press Enter.
    node(page, "NormalizeNode").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/{span_id_of(view, 'NormalizeNode')}"))
    assert_accessible(page)


def test_stepping_through_state_with_the_keyboard(signed_in: Page, web, runs):
    page = signed_in
    triage = runs["triage"][-1]
    base = f"/api/v1/traces/{triage['trace_id']}/workflows/{triage['span_id']}"
    view = web.get(base + "/run")
    page.goto(web.url + run_path(SERVICE, triage))
    expect(page.locator(".wf-position")).to_contain_text(f"{len(view['timeline'])} changes")
    page.locator("body").press("ArrowRight")
    expect(page.locator(".wf-position")).to_have_text(f"Change 1 of {len(view['timeline'])}")
    first = web.get(base + "/change", index="0")
    changes = page.locator("table.wf-changes")
    expect(changes).to_contain_text("/words")
    expect(changes).to_contain_text(first["state_after"]["words"][0])
    page.locator("body").press("ArrowRight")
    second = web.get(base + "/change", index="1")
    assert second["action"] == "set_context"
    expect(page.locator(".wf-change-head")).to_contain_text(
        "RetrieveContextNode wrote set_context to TicketStore"
    )
    expect(page).to_have_url(re.compile(r"change=1"))
    # Before: the changed path marked, with its old value; After: its new one.
    page.get_by_role("tab", name="Before").click()
    before = page.locator(".wf-json-line.wf-changed").first
    expect(before).to_have_attribute("data-path", "/context")
    expect(before).to_contain_text('"context": null')
    page.get_by_role("tab", name="After").click()
    after = page.locator(".wf-json-line.wf-changed").first
    expect(after).to_contain_text(second["state_after"]["context"][:20])
    # The tab is in the URL; the path filter narrows what is shown.
    expect(page).to_have_url(re.compile(r"tab=after"))
    page.get_by_label("Paths").fill("/status")
    expect(page.locator(".wf-json-line")).to_have_count(1)
    expect(page.locator(".wf-json-line")).to_contain_text('"status": "new"')
    page.get_by_label("Paths").fill("")
    page.get_by_role("heading", name="State", exact=True).click()  # out of the field: keys step
    # Back, Home and End; then the buttons and the scrubber say the same.
    page.locator("body").press("ArrowLeft")
    expect(page.locator(".wf-position")).to_have_text(f"Change 1 of {len(view['timeline'])}")
    page.locator("body").press("End")
    last = len(view["timeline"])
    expect(page.locator(".wf-position")).to_have_text(f"Change {last} of {last}")
    expect(page.get_by_role("button", name="Next change")).to_be_disabled()
    page.get_by_role("button", name="First change").click()
    expect(page.locator(".wf-position")).to_have_text(f"Change 1 of {last}")
    page.get_by_role("slider", name="State change").fill("4")
    expect(page.locator(".wf-position")).to_have_text(f"Change 5 of {last}")
    page.get_by_role("button", name="Play").click()
    expect(page.locator(".wf-position")).to_have_text(f"Change {last} of {last}", timeout=15_000)
    expect(page.get_by_role("button", name="Play")).to_be_visible()  # it stopped at the end
    assert_accessible_in_both_themes(page)


def test_concurrent_writers_are_interleaved_in_the_servers_order(signed_in: Page, web, runs):
    page = signed_in
    triage = runs["triage"][0]
    view = api_run(web, triage)
    page.goto(web.url + run_path(SERVICE, triage))
    timeline = page.get_by_role("list", name="State changes")
    labels = timeline.locator(".wf-entry-label")
    expect(labels.first).to_be_visible()
    expected = [
        f"{e['store_name']} · {e['node_name']} · {e['action']}" for e in view["timeline"][:8]
    ]
    assert labels.all_inner_texts()[:8] == expected
    writers = [e["node_name"] for e in view["timeline"]]
    # The Analyze group's two nodes both wrote, each labelled; the subflow's own store too.
    assert {"CountWordsNode", "DetectSentimentNode", "DraftSummaryNode"} <= set(writers)


def test_a_shared_store_run_holds_its_siblings_writes(signed_in: Page, web, runs):
    page = signed_in
    intake = runs["intake"]
    page.goto(web.url + run_path(V3_SERVICE, intake))
    expect(page.get_by_role("heading", name="Workflow run: Shared Intake")).to_be_visible()
    expect(page.locator(".wf-meta")).to_contain_text("State complete")
    page.locator("body").press("End")
    page.get_by_role("tab", name="After").click()
    state = page.locator(".wf-json")
    # The Store is shared with "Shared Audit", running at the same time: its writes are here,
    # interleaved with this run's in the Store's order, and each says who wrote it.
    expect(state).to_contain_text("shared-audit-0")
    expect(state).to_contain_text("shared-intake-0")
    labels = page.get_by_role("list", name="State changes").locator(".wf-entry-label")
    texts = labels.all_inner_texts()
    others = [t for t in texts if t.startswith("LedgerStore · Shared Audit \u203a RecordNode")]
    assert 0 < len(others) < len(texts)
    expect(page.locator(".wf-change-head")).to_contain_text("Another run, Shared Audit")
    assert_accessible(page)


def test_a_deleted_state_change_is_named_by_the_verdict(signed_in: Page, web, runs):
    page = signed_in
    gap = runs["gap"]
    view = api_run(web, gap)
    assert view["integrity"]["verdict"] == "partial"
    page.goto(web.url + run_path("wf-app-tampered", gap))
    verdict = page.get_by_role("region", name="The state of this run is not complete")
    expect(verdict).to_be_visible()
    reason = next(r for r in view["integrity"]["reasons"] if r["code"] == "sequence_gap")
    expect(verdict).to_contain_text(reason["message"])
    expect(page.locator(".wf-meta")).to_contain_text("State partial")
    # The first change left replays onto a state that lacks the deleted one's write: the
    # server says it cannot be applied, and the page says so on that step.
    page.locator("body").press("ArrowRight")
    assert view["timeline"][0]["patch_error"]
    expect(page.locator(".wf-doubt")).to_contain_text(view["timeline"][0]["patch_error"])
    expect(page.locator(".wf-entry-doubtful")).to_have_count(len(view["timeline"]))
    assert_accessible(page)


def test_a_legacy_run_draws_its_v1_graph(signed_in: Page, web, runs):
    page = signed_in
    legacy = runs["legacy"]
    page.goto(web.url + run_path("wf-app-legacy", legacy))
    expect(node(page, "NormalizeNode")).to_have_attribute("data-status", "executed")
    expect(page.locator("svg.wf-graph .wf-cluster-group")).to_have_count(1)  # Analyze, boxed
    expect(page.locator("svg.wf-graph .wf-edge-label")).to_contain_text("SentimentIsNegative")


def test_a_node_that_ran_twice_says_so(signed_in: Page, web, runs):
    page = signed_in
    page.goto(web.url + run_path("wf-app-loop", runs["twice"]))
    normalize = node(page, "NormalizeNode")
    expect(normalize.locator(".wf-runs")).to_have_text(" \u00d72")
    expect(normalize).to_have_attribute("aria-label", re.compile("ran, 2 times"))
    assert_accessible(page)
    # A lifecycle hook that failed while FinalizeNode ran is shown with the errors.
    hook = page.get_by_role("region", name="Errors").locator("li", has_text="FinalizeNode")
    expect(hook).to_contain_text("Hook node_completed app.hooks.notify_slack")
    expect(hook).to_contain_text("ConnectionError: slack.example.com refused the connection")


def test_a_subflow_run_shows_the_graph_it_is_part_of(signed_in: Page, web, runs):
    page = signed_in
    triage = runs["triage"][-1]
    view = api_run(web, triage)
    summarize = span_id_of(view, "Summarize")
    page.goto(web.url + f"/workflows/{SERVICE}/{triage['trace_id']}/{summarize}")
    expect(page.get_by_role("heading", name="Subflow run: Summarize")).to_be_visible()
    parent = page.get_by_role("region", name="Part of Support Ticket Triage")
    marked = parent.locator("g.wf-node.wf-selected")
    expect(marked).to_contain_text("Summarize")
    own = page.locator(".wf-top svg.wf-graph")
    expect(own.locator("g.wf-node", has_text="DraftSummaryNode")).to_have_attribute(
        "data-status", "executed"
    )
    # Its own store's changes: the subflow's SummaryStore.
    expect(page.get_by_role("list", name="State changes")).to_contain_text("SummaryStore")
    assert_accessible(page)
    # A node of the parent's graph opens the parent run with that node's span.
    parent.locator("g.wf-node", has_text="FinalizeNode").click()
    expect(page).to_have_url(re.compile(f"/{triage['span_id']}/{span_id_of(view, 'FinalizeNode')}"))


def test_a_selected_span_shows_the_state_when_it_started(signed_in: Page, web, runs):
    page = signed_in
    triage = runs["triage"][-1]
    view = api_run(web, triage)
    finalize = span_id_of(view, "FinalizeNode")
    base = f"/api/v1/traces/{triage['trace_id']}/workflows/{triage['span_id']}"
    state = web.get(base + "/state", span=finalize)["state"]
    page.goto(web.url + run_path(SERVICE, triage, finalize))
    expect(page.locator(".wf-state-caption")).to_contain_text("FinalizeNode started")
    lines = page.get_by_role("list", name="State when the span started")
    expect(lines).to_contain_text(f'"status": "{state["status"]}"')
    expect(lines).to_contain_text(f'"summary": "{state["summary"][:30]}')


def test_an_agent_run_steps_through_its_application_store(signed_in: Page, web, runs):
    page = signed_in
    agent = runs["agent"]
    view = api_run(web, agent)
    page.goto(web.url + run_path(V3_SERVICE, agent))
    expect(page.get_by_role("heading", name=f"Agent run: {agent['name']}")).to_be_visible()
    expect(page.locator(".wf-graph-panel")).to_contain_text("An agent run has no graph")
    entries = page.get_by_role("list", name="State changes").locator(".wf-entry")
    expect(entries).to_have_count(len(view["timeline"]))
    page.locator("body").press("ArrowRight")
    expect(page.locator(".wf-change-head")).to_contain_text(view["timeline"][0]["action"])
    assert_accessible(page)


def test_previous_and_next_run_of_the_same_workflow(signed_in: Page, web, runs):
    page = signed_in
    older, newer = runs["triage"]
    page.goto(web.url + run_path(SERVICE, newer))
    page.get_by_role("link", name="← Previous run").click()
    expect(page).to_have_url(re.compile(older["span_id"]))
    expect(page.get_by_role("link", name="Next run →")).to_be_visible()
    page.get_by_role("link", name="Next run →").click()
    expect(page).to_have_url(re.compile(newer["span_id"]))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    """A server holding one run of 1,000 nodes and 10,000 changes of ~10 KB states."""
    web = start_web_server(tmp_path_factory.mktemp("big-workflow") / "data")
    try:
        web.extra["run"] = send_big_workflow(web.url, web.keys.ingest)
        web.wait_indexed(timeout=300)
        yield web
    finally:
        web.server.stop()
        web.server.kill()


def test_a_run_of_1000_nodes_and_10000_changes_stays_fluid(page: Page, big: WebServer):
    big.sign_in(page)
    trace_id, span_id = big.extra["run"]
    opened = open_run_ms(page, run_url(big.url, trace_id, span_id))
    expect(page.locator(".wf-meta")).to_contain_text("1,000 of 1,000 nodes ran")
    expect(page.locator(".wf-meta")).to_contain_text("10,000 state changes")
    step = step_ms(page, 10)
    jump = jump_ms(page, 10_000)
    print(f"\nbig run: opened in {opened:.0f} ms, a step {step:.0f} ms, to the end {jump:.0f} ms")
    assert opened < BIG_OPEN_MS and step < BIG_STEP_MS and jump < BIG_STEP_MS
    expect(page.locator(".wf-position")).to_have_text("Change 10,000 of 10,000")
    assert page.locator(".wf-timeline .wf-entry").count() < 100  # rows in view only
