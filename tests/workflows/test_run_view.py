"""The debugger's run view (junjo.features.workflows.run / compare) over real-SDK fixtures, and
its REST routes on a real server fed those spans through OTLP/HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from junjo.features.workflows import RunView, build_workflow_execution, compare_runs
from tests.support.resend import resend
from tests.support.web import WebServer, start_web_server
from tests.workflows.helpers import delete_set_state, load, ran_twice, span_named


def owner(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return span_named(spans, name)


# -- domain -------------------------------------------------------------------------------


def test_the_timeline_holds_every_store_of_the_run_once_labelled_with_its_writer():
    spans = load("sdk_ticket_triage")
    view = RunView(spans, owner(spans, "Support Ticket Triage")["span_id"])
    summary = view.summary()
    timeline = summary["timeline"]
    stores = {e["store_name"] for e in timeline}
    assert stores == {"TicketStore", "SummaryStore"}  # the subflow's own store too
    assert [e["index"] for e in timeline] == list(range(len(timeline)))
    assert all(e["node_name"] for e in timeline)
    times = [e["time_ns"] for e in timeline]
    assert times == sorted(times)
    assert "state_before" not in timeline[0]  # states come one change at a time
    assert summary["integrity"]["verdict"] == "complete"
    assert [s["owner_name"] for s in summary["stores"]] == ["Support Ticket Triage", "Summarize"]


def test_a_change_is_the_replays_state_before_and_after_with_its_changes():
    spans = load("sdk_ticket_triage")
    workflow = owner(spans, "Support Ticket Triage")
    view = RunView(spans, workflow["span_id"])
    truth = build_workflow_execution(spans, workflow["span_id"])["transitions"]
    ticket = [e for e in view.timeline if e["owner_span_id"] == workflow["span_id"]]
    for entry, transition in zip(ticket, truth, strict=True):
        change = view.change(entry["index"])
        assert change["state_before"] == transition["state_before"]
        assert change["state_after"] == transition["state_after"]
    first = view.change(0)
    assert first["action"] == "set_words"
    # One op per word in the patch; one change of the list.
    (words,) = first["changes"]
    assert words["path"] == "/words" and words["after"] == first["state_after"]["words"]
    assert len(first["changed_paths"]) == len(first["patch"]) > 1


def test_a_node_that_ran_twice_counts_both_runs():
    spans = ran_twice(load("sdk_ticket_triage"), "NormalizeNode")
    view = RunView(spans, owner(spans, "Support Ticket Triage")["span_id"])
    nodes = view.summary()["nodes"]
    node_id = view.execution["span_nodes"]["f" * 16]
    assert nodes[node_id]["runs"] == 2 and nodes[node_id]["status"] == "executed"
    assert "f" * 16 in nodes[node_id]["span_ids"]


def test_node_statuses_of_a_failed_run():
    spans = load("sdk_order_failed")
    view = RunView(spans, owner(spans, "Order Enrichment")["span_id"])
    summary = view.summary()
    labels = {n["id"]: n["label"] for n in summary["graph"]["nodes"]}
    statuses = {labels[k]: v["status"] for k, v in summary["nodes"].items() if k in labels}
    assert "failed" in statuses.values() and "not_run" in statuses.values()
    assert "cancelled" in statuses.values()  # the sibling the failure cancelled
    failed = [s for s in summary["spans"] if s["exceptions"]]
    assert failed and failed[0]["exceptions"][0]["type"]
    cancelled = [s for s in summary["spans"] if s["cancelled"]]
    assert cancelled and cancelled[0]["cancelled_reason"]


def test_concurrent_runs_on_a_shared_store_interleave_in_sequence_order():
    spans = load("sdk3_shared_store")
    view = RunView(spans, owner(spans, "Shared Intake")["span_id"])
    entries = [view.change(e["index"])["state_after"]["entries"][-1] for e in view.timeline]
    assert any("audit" in e for e in entries) and any("intake" in e for e in entries)
    assert [e["sequence"] for e in view.timeline] == sorted(e["sequence"] for e in view.timeline)


def test_a_deleted_change_makes_the_run_partial_and_names_the_gap():
    spans = load("sdk_ticket_triage")
    delete_set_state(spans, "set_context")
    view = RunView(spans, owner(spans, "Support Ticket Triage")["span_id"])
    integrity = view.summary()["integrity"]
    assert integrity["verdict"] == "partial"
    gap = next(r for r in integrity["reasons"] if r["code"] == "sequence_gap")
    assert gap["missing"] == [2] and gap["owner_name"] == "Support Ticket Triage"


def test_state_at_a_span_is_its_store_before_the_span_started():
    spans = load("sdk_ticket_triage")
    view = RunView(spans, owner(spans, "Support Ticket Triage")["span_id"])
    finalize = span_named(spans, "FinalizeNode")
    at = view.state_at_span(finalize["span_id"])
    last_before = [
        e
        for e in view.timeline
        if e["store_id"] == at["store_id"] and e["node_name"] != "FinalizeNode"
    ][-1]
    assert at["index"] == last_before["index"]
    assert at["state"] == view.change(last_before["index"])["state_after"]


def test_compare_two_runs_matches_nodes_by_structure_and_diffs_states():
    a_spans, b_spans = load("sdk_ticket_triage"), load("sdk_order_failed")
    a = RunView(a_spans, owner(a_spans, "Support Ticket Triage")["span_id"])
    same = RunView(load("sdk_ticket_triage"), owner(a_spans, "Support Ticket Triage")["span_id"])
    compared = compare_runs(a, same, 0, None)
    assert compared["same_workflow"]
    assert all(n["a"] and n["b"] for n in compared["nodes"])  # one structure
    assert compared["state_diff"]  # the first step against the end
    other = compare_runs(a, RunView(b_spans, owner(b_spans, "Order Enrichment")["span_id"]))
    assert not other["same_workflow"]


# -- REST ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    web = start_web_server(tmp_path_factory.mktemp("runs") / "data", with_user=False)
    try:
        send = lambda spans, at=None: resend(web.url, web.keys.ingest, spans, "svc", at)  # noqa: E731
        first = send(load("sdk_ticket_triage"), 1_800_000_000_000_000_000)
        second = send(load("sdk_ticket_triage"), 1_800_000_100_000_000_000)
        broken = load("sdk_ticket_triage")
        delete_set_state(broken, "set_context")
        gap = send(broken, 1_700_000_000_000_000_000)
        web.wait_indexed()
        yield {"web": web, "first": first, "second": second, "gap": gap}
    finally:
        web.server.stop()
        web.server.kill()


def _workflow_id(web: WebServer, trace_id: str) -> str:
    spans = web.get(f"/api/v1/traces/{trace_id}")["spans"]
    return next(s["span_id"] for s in spans if s["name"] == "Support Ticket Triage")


def test_the_run_route_serves_the_view_and_the_neighbouring_runs(served):
    web = served["web"]
    second = _workflow_id(web, served["second"])
    run = web.get(f"/api/v1/traces/{served['second']}/workflows/{second}/run")
    assert run["integrity"]["verdict"] == "complete" and len(run["timeline"]) == 11
    assert run["neighbours"]["previous"]["trace_id"] == served["first"]
    assert run["neighbours"]["next"] is None
    change = web.get(f"/api/v1/traces/{served['second']}/workflows/{second}/change", index="3")
    assert change["index"] == 3 and "state_after" in change and change["changes"]
    runs = web.get("/api/v1/workflow-runs", service="svc", name="Support Ticket Triage")["runs"]
    assert [r["trace_id"] for r in runs] == [served["second"], served["first"], served["gap"]]
    assert runs[0]["node_count"] and runs[0]["status"] == "ok"


def test_the_workflows_route_lists_each_workflow_with_its_runs(served):
    web = served["web"]
    (triage,) = web.get("/api/v1/workflows", service="svc")
    assert triage["name"] == "Support Ticket Triage" and triage["run_count"] == 3
    assert triage["failed_count"] == 0 and triage["last_run"]["trace_id"] == served["second"]
    assert web.get("/api/v1/workflows", service="nothing") == []


def test_the_gap_run_says_what_is_missing(served):
    web = served["web"]
    span = _workflow_id(web, served["gap"])
    run = web.get(f"/api/v1/traces/{served['gap']}/workflows/{span}/run")
    assert run["integrity"]["verdict"] == "partial"
    assert "transition(s) 2 are missing" in run["integrity"]["reasons"][0]["message"]


def test_state_at_span_and_compare_routes(served):
    web = served["web"]
    a, b = _workflow_id(web, served["first"]), _workflow_id(web, served["second"])
    state = web.get(f"/api/v1/traces/{served['first']}/workflows/{a}/state", span=a)
    assert state["index"] is None and state["state"] is not None  # the start state
    compared = web.get(
        "/api/v1/workflow-runs/compare",
        a_trace=served["first"], a_span=a, b_trace=served["second"], b_span=b,
    )  # fmt: skip
    assert compared["same_workflow"] and compared["state_diff"] == []


def test_run_routes_refuse_without_credentials_and_check_their_input(served):
    web = served["web"]
    a = _workflow_id(web, served["first"])
    base = f"{web.url}/api/v1/traces/{served['first']}/workflows/{a}"
    for path in ("/run", "/change?index=0", f"/state?span={a}"):
        assert httpx.get(base + path).status_code == 401
    assert httpx.get(f"{web.url}/api/v1/workflow-runs?service=s&name=n").status_code == 401
    headers = {"Authorization": f"Bearer {web.keys.read}"}
    assert httpx.get(base + "/change?index=99", headers=headers).status_code == 404
    assert httpx.get(base + "/change?index=x", headers=headers).status_code == 422
    assert httpx.get(base + "/state?span=x", headers=headers).status_code == 422
    assert httpx.get(f"{web.url}/api/v1/workflow-runs", headers=headers).status_code == 422
