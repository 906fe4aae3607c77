"""The real junjo SDK workload, sent to an in-test OTLP receiver: manifest and wire must agree.

Slow: the first run builds `.cache/sdk-venv` from PyPI (about 25 s); later runs take about 1 s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.sdk_e2e.run import run_workload
from tests.support.otlp_recorder import API_KEY_HEADER, OtlpRecorder

pytestmark = pytest.mark.slow
API_KEY = "e2e-smoke-key"


def by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {span["span_id"]: span for span in spans}


def set_state_events(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["attributes"] for s in spans for e in s["events"] if e["name"] == "set_state"]


@pytest.fixture(scope="module")
def received() -> tuple[dict[str, Any], OtlpRecorder]:
    with OtlpRecorder(api_key=API_KEY) as recorder:
        manifest = run_workload(recorder.endpoint, API_KEY, service_name="smoke-app", runs=2)
    return manifest, recorder


def test_every_span_arrives_exactly_as_the_sdk_recorded_it(received) -> None:
    manifest, recorder = received
    assert manifest["export"]["ok"], manifest["export"]
    assert recorder.rejected == []
    assert all(e.metadata[API_KEY_HEADER] == API_KEY for e in recorder.exports)
    wire = recorder.spans()
    assert len(wire) == len(manifest["spans"]) == manifest["summary"]["span_count"]
    assert by_id(wire) == by_id(manifest["spans"])
    assert {s["service_name"] for s in wire} == {"smoke-app"}


def test_workload_covers_the_telemetry_contract(received) -> None:
    manifest, _ = received
    summary, spans = manifest["summary"], by_id(manifest["spans"])
    assert manifest["packages"]["junjo"] == "0.68.0"
    assert len(summary["trace_ids"]) == 4  # 2 runs x (ticket + order) workflows
    assert len(summary["workflow_span_ids"]) == 4
    assert len(summary["subflow_span_ids"]) == 2
    assert len(summary["run_concurrent_span_ids"]) == 4
    assert {spans[i]["attributes"].get("openinference.span.kind") for i in summary["llm_span_ids"]}
    assert {spans[i]["name"] for i in summary["error_span_ids"]} == {
        "Order Enrichment",
        "Enrich",
        "CheckInventoryNode",
    }
    assert [
        spans[i]["attributes"]["junjo.cancelled_reason"] for i in summary["cancelled_span_ids"]
    ] == ["sibling_failed"] * 2
    outcomes = sorted(o["outcome"] for o in manifest["outcomes"])
    assert outcomes == ["completed", "completed", "failed", "failed"]


def test_set_state_events_are_contiguous_per_store(received) -> None:
    manifest, recorder = received
    events = set_state_events(recorder.spans())
    summary = manifest["summary"]
    assert len(events) == summary["set_state_event_count"]
    for store_id, count in summary["set_state_counts"].items():
        mine = sorted(
            (e for e in events if e["junjo.store.id"] == store_id),
            key=lambda e: e["junjo.store.transition.sequence"],
        )
        assert [e["junjo.store.transition.sequence"] for e in mine] == list(range(1, count + 1))
        assert all(isinstance(json.loads(e["junjo.state_json_patch"]), list) for e in mine)
    owners = [s for s in manifest["spans"] if s["span_id"] in summary["workflow_span_ids"]]
    for owner in owners:
        attrs = owner["attributes"]
        state = json.loads(attrs["junjo.workflow.state.end"])
        assert summary["final_states"][attrs["junjo.workflow.store.id"]] == state
        assert attrs["junjo.store.reconstructable"] is True
        assert (
            attrs["junjo.store.transition.count"]
            == summary["set_state_counts"][attrs["junjo.workflow.store.id"]]
        )


def test_a_rejected_api_key_is_reported_as_an_export_failure() -> None:
    with OtlpRecorder(api_key=API_KEY) as recorder:
        manifest = run_workload(recorder.endpoint, "wrong-key", check=False)
    assert not manifest["export"]["ok"]
    assert manifest["export"]["spans_exported"] == 0
    assert recorder.exports == [] and len(recorder.rejected) >= 1
