"""Regenerate the real-SDK fixtures in ``fixtures/`` (not run by pytest).

    .venv/bin/python -m tests.workflows.make_fixtures

Runs the real junjo SDK workload (`scripts/sdk_e2e`) against an in-process OTLP recorder and
writes each trace as the list of span dicts the query layer hands to
``junjo.features.workflows`` (events with ``timeUnixNano`` as a decimal string, dropped counts).
The contract-3 fixtures (``sdk3_*``) come from ``scripts/sdk_e2e/shared_store_app.py`` on the
newest SDK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.sdk_e2e.run import run_shared_store_workload, run_workload
from tests.support.otlp_recorder import OtlpRecorder, attributes

FIXTURES = Path(__file__).resolve().with_name("fixtures")
API_KEY = "fixture-key"
NAMES = {
    "Support Ticket Triage": "sdk_ticket_triage.json",
    "Order Enrichment": "sdk_order_failed.json",
}
CONTRACT_3_NAMES = {
    "Shared Store Batch": "sdk3_shared_store.json",
    "Checkpoint Resume": "sdk3_checkpoint_resume.json",
    "Agent Desk": "sdk3_agent_desk.json",
}


def query_span(span: Any, service_name: str) -> dict[str, Any]:
    """One OTLP span in the query layer's shape."""
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "service_name": service_name,
        "name": span.name,
        "kind": span.kind,
        "start_time_ns": span.start_time_unix_nano,
        "end_time_ns": span.end_time_unix_nano,
        "status_code": span.status.code,
        "status_message": span.status.message,
        "attributes": attributes(span.attributes),
        "events": [
            {
                "name": e.name,
                "timeUnixNano": str(e.time_unix_nano),
                "attributes": attributes(e.attributes),
                "droppedAttributesCount": e.dropped_attributes_count,
            }
            for e in span.events
        ],
        "dropped_events_count": span.dropped_events_count,
        "dropped_attributes_count": span.dropped_attributes_count,
    }


def received_spans(recorder: OtlpRecorder) -> list[dict[str, Any]]:
    out = []
    for export in recorder.exports:
        for rs in export.request.resource_spans:
            service = attributes(rs.resource.attributes).get("service.name", "")
            for scope_spans in rs.scope_spans:
                out.extend(query_span(span, service) for span in scope_spans.spans)
    return out


def write_traces(spans: list[dict[str, Any]], names: dict[str, str]) -> None:
    FIXTURES.mkdir(exist_ok=True)
    for root in (s for s in spans if s["parent_span_id"] is None):
        name = names.get(root["name"])
        trace = [s for s in spans if s["trace_id"] == root["trace_id"]]
        if name:
            # Keep the wire's arrival order: children arrive before their parents.
            (FIXTURES / name).write_text(json.dumps(trace, indent=1, sort_keys=True) + "\n")
            print(f"{name}: {len(trace)} spans")


def main() -> None:
    with OtlpRecorder(api_key=API_KEY) as recorder:
        manifest = run_workload(recorder.endpoint, API_KEY, service_name="fixture-app", runs=1)
        spans = received_spans(recorder)
    write_traces(spans, NAMES)
    print("packages:", manifest["packages"])
    write_traces(
        run_shared_store_workload(None, None, service_name="fixture-app"), CONTRACT_3_NAMES
    )


if __name__ == "__main__":
    main()
