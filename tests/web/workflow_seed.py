"""Workflow runs for the debugger's browser tests, made by the real junjo SDK from PyPI in
isolated venvs (scripts/sdk_e2e): two runs each of "Support Ticket Triage" (a RunConcurrent
group, a subflow with its own store, a conditional edge) and "Order Enrichment" (a node fails,
its sibling is cancelled, the next node never runs) on a contract-2 release; "Shared Store
Batch" (two workflows on one Store, contract 3) on the newest. Then, resent as new traces
through OTLP/HTTP: "Checkpoint Resume" of that same newest-SDK run with one state change
deleted, the legacy (SDK <= 0.62, v1 graph) fixture recorded from a real run, and the
contract-2 fixture with one node run twice and a failed lifecycle hook."""

from __future__ import annotations

from typing import Any

from scripts.sdk_e2e.run import run_shared_store_workload, run_workload
from scripts.sdk_e2e.venv import CONTRACT_2_SDK
from tests.support.resend import resend
from tests.support.web import WebServer
from tests.workflows.helpers import load, ran_twice

SERVICE = "wf-app"
V3_SERVICE = "wf-app-v3"


def _run_of(web: WebServer, trace_id: str, name: str) -> dict[str, Any]:
    spans = web.get(f"/api/v1/traces/{trace_id}")["spans"]
    (span,) = [s for s in spans if s["name"] == name and s.get("junjo_span_type") == "workflow"]
    return {"trace_id": trace_id, "span_id": span["span_id"], "name": name}


def _runs_named(web: WebServer, service: str, name: str) -> list[dict[str, Any]]:
    """Oldest first."""
    found = web.get("/api/v1/workflow-runs", service=service, name=name)["runs"]
    return [{"trace_id": r["trace_id"], "span_id": r["span_id"], "name": name} for r in found][::-1]


def seed_workflows(web: WebServer) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    run_workload(
        web.server.grpc_target, web.keys.ingest, SERVICE, runs=2, sdk_version=CONTRACT_2_SDK
    )
    spans = run_shared_store_workload(web.server.grpc_target, web.keys.ingest, V3_SERVICE)
    resume = [s for s in spans if s["trace_id"] == _trace_of(spans, "Checkpoint Resume")]
    node = next(s for s in resume if s["events"])
    node["events"].remove(next(e for e in node["events"] if e["name"] == "set_state"))
    gap_trace = resend(web.url, web.keys.ingest, resume, "wf-app-tampered")
    legacy_trace = resend(
        web.url, web.keys.ingest, load("sdk_legacy_ticket_triage"), "wf-app-legacy"
    )
    twice = ran_twice(load("sdk_ticket_triage"), "NormalizeNode")
    with_hook_error(twice, "FinalizeNode")
    twice_trace = resend(web.url, web.keys.ingest, twice, "wf-app-loop")
    web.wait_indexed()
    runs["triage"] = _runs_named(web, SERVICE, "Support Ticket Triage")
    runs["order"] = _runs_named(web, SERVICE, "Order Enrichment")
    runs["intake"] = _runs_named(web, V3_SERVICE, "Shared Intake")[0]
    desk = _runs_named(web, V3_SERVICE, "Agent Desk")[0]
    desk_spans = web.get(f"/api/v1/traces/{desk['trace_id']}")["spans"]
    agent = next(s for s in desk_spans if s.get("junjo_span_type") == "agent")
    runs["agent"] = {
        "trace_id": desk["trace_id"],
        "span_id": agent["span_id"],
        "name": agent["name"],
    }
    runs["gap"] = _run_of(web, gap_trace, "Checkpoint Resume")
    runs["legacy"] = _run_of(web, legacy_trace, "Support Ticket Triage")
    runs["twice"] = _run_of(web, twice_trace, "Support Ticket Triage")
    return runs


def with_hook_error(spans: list[dict[str, Any]], name: str) -> None:
    """A lifecycle hook's callback failed while ``name`` ran (telemetry contract 2.6)."""
    span = next(s for s in spans if s["name"] == name)
    span["events"].append(
        {
            "name": "junjo.hook_error",
            "timeUnixNano": str(span["end_time_ns"] - 1000),
            "attributes": {
                "junjo.hook.event": "node_completed",
                "junjo.hook.callback": "app.hooks.notify_slack",
                "junjo.hook.error.type": "ConnectionError",
                "junjo.hook.error.message": "slack.example.com refused the connection",
                "exception.type": "ConnectionError",
                "exception.message": "slack.example.com refused the connection",
                "exception.stacktrace": "Traceback (most recent call last):\n  ...",
            },
            "droppedAttributesCount": 0,
        }
    )


def _trace_of(spans: list[dict[str, Any]], name: str) -> str:
    return next(s["trace_id"] for s in spans if s["name"] == name)


def run_path(service: str, run: dict[str, Any], span_id: str | None = None) -> str:
    path = f"/workflows/{service}/{run['trace_id']}/{run['span_id']}"
    return f"{path}/{span_id}" if span_id else path
