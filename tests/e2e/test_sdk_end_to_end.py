"""The real junjo SDK (from PyPI, in its own venv) exporting to a real `junjo serve`:
what is stored in DuckDB must match, span for span, what the SDK says it sent."""

from __future__ import annotations

import json

import pytest

from junjo.features.spans.store import SpanStore
from scripts.sdk_e2e.run import run_workload
from tests.support.cli import run_cli
from tests.support.keys import make_keys
from tests.support.server import ServerProcess
from tests.support.span_store import query_dicts
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict], list[dict]]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    key = make_keys(data_dir).ingest
    with ServerProcess(data_dir) as server:
        manifest = run_workload(server.grpc_target, key, service_name="e2e-app", runs=2)
        _wait_until_indexed(data_dir, server, manifest["summary"]["span_count"])
    with SpanStore.open_readonly(data_dir / "spans.duckdb") as store:
        spans = query_dicts(store, "SELECT * FROM spans")
    changes = [  # the set_state events workflow replay reads
        event["attributes"]
        for span in spans
        for event in json.loads(span["events_json"])
        if event["name"] == "set_state"
    ]
    return manifest, spans, changes


def _wait_until_indexed(data_dir, server: ServerProcess, expected: int) -> None:
    def indexed() -> bool:
        result = run_cli(data_dir, "services", "--json")
        return (
            result.returncode == 0
            and sum(s["span_count"] for s in json.loads(result.stdout)) >= expected
        )

    wait_until(indexed, 30, interval=0.2, message=lambda: f"spans not indexed:\n{server.log}")


def test_every_span_is_stored_once_with_its_otlp_fields(stored):
    manifest, spans, _ = stored
    assert manifest["export"]["ok"]
    keys = [(s["trace_id"], s["span_id"]) for s in spans]
    assert len(keys) == len(set(keys)) == manifest["summary"]["span_count"]
    by_id = {s["span_id"]: s for s in spans}
    for sent in manifest["spans"]:
        row = by_id[sent["span_id"]]
        assert row["trace_id"] == sent["trace_id"]
        assert row["parent_span_id"] == sent["parent_span_id"]
        assert (row["name"], row["kind"], row["status_code"]) == (
            sent["name"], sent["kind"], sent["status_code"]
        )  # fmt: skip
        assert row["start_time_ns"] == sent["start_time_unix_nano"]
        assert row["service_name"] == "e2e-app"
        assert json.loads(row["attributes_json"]) == sent["attributes"]
        events = json.loads(row["events_json"])
        assert [e["name"] for e in events] == [e["name"] for e in sent["events"]]
        assert [e["attributes"] for e in events] == [e["attributes"] for e in sent["events"]]
        assert all(
            e["timeUnixNano"] == str(s["time_unix_nano"])
            for e, s in zip(events, sent["events"], strict=True)
        )


def test_extracted_columns(stored):
    manifest, spans, _ = stored
    summary = manifest["summary"]
    by_id = {s["span_id"]: s for s in spans}
    for sent in manifest["spans"]:
        row, attrs = by_id[sent["span_id"]], sent["attributes"]
        assert row["junjo_span_type"] == attrs.get("junjo.span_type")
        assert row["junjo_contract_version"] == attrs.get("junjo.telemetry.contract_version")
        assert row["junjo_executable_runtime_id"] == attrs.get("junjo.executable_runtime_id")
        if attrs.get("junjo.span_type") in ("workflow", "subflow"):
            assert row["junjo_store_id"] == attrs["junjo.workflow.store.id"]
    assert {s["span_id"] for s in spans if s["is_llm"]} == set(summary["llm_span_ids"])
    assert {s["span_id"] for s in spans if s["is_error"]} == set(summary["error_span_ids"])
    llm = [s for s in spans if s["is_llm"] and s["llm_total_tokens"] is not None]
    assert llm and all(s["llm_model_name"] for s in llm)


def test_stored_set_state_events_match_the_sent_ones(stored):
    manifest, _, changes = stored
    summary = manifest["summary"]
    assert len(changes) == summary["set_state_event_count"]
    per_store: dict[str, list[int]] = {}
    for change in changes:
        store_id, sequence = change["junjo.store.id"], change["junjo.store.transition.sequence"]
        per_store.setdefault(store_id, []).append(sequence)
    assert {k: len(v) for k, v in per_store.items()} == summary["set_state_counts"]
    for sequences in per_store.values():
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
    sent_patches = sorted(
        e["attributes"]["junjo.state_json_patch"]
        for s in manifest["spans"] for e in s["events"] if e["name"] == "set_state"
    )  # fmt: skip
    assert sorted(c["junjo.state_json_patch"] for c in changes) == sent_patches
