"""The real junjo SDK (from PyPI, one venv per release) exporting to a real `junjo serve`:
the newest release (0.69.0, telemetry contract 3) and the last contract-2 one (0.68.0) side by
side. What is stored in DuckDB must match, span for span, what each SDK says it sent, and every
workflow run must reconstruct `complete` through the REST API and `junjo traces show --state`,
including runs that share one Store (contract 3 only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from junjo.features.spans.store import SpanStore
from scripts.sdk_e2e.run import run_shared_store_workload, run_workload
from scripts.sdk_e2e.venv import NEWEST_SDK, SDK_VERSIONS
from tests.support.cli import run_cli
from tests.support.keys import make_keys
from tests.support.server import ServerProcess
from tests.support.span_store import query_dicts
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
SHARED_SERVICE = "e2e-shared-store"
OWNER_TYPES = ("workflow", "subflow")


def service_of(sdk_version: str) -> str:
    return f"e2e-app-{sdk_version}"


@dataclass
class Served:
    """One server that both SDK releases and the shared-Store workload exported to."""

    server: ServerProcess
    data_dir: Path
    read_key: str
    manifests: dict[str, dict[str, Any]]  # SDK version -> workflow_app manifest
    shared_spans: list[dict[str, Any]]  # shared_store_app.py's spans (newest SDK)
    rows: list[dict[str, Any]]  # every stored span row, as DuckDB holds it

    def get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.read_key}"}
        response = httpx.get(self.server.url + path, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def execution(self, owner: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.get(
            f"/api/v1/traces/{owner['trace_id']}/workflows/{owner['span_id']}"
        )
        return result


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    keys = make_keys(data_dir)
    with ServerProcess(data_dir) as server:
        manifests = {
            sdk: run_workload(
                server.grpc_target, keys.ingest, service_name=service_of(sdk), runs=2,
                sdk_version=sdk,
            )
            for sdk in SDK_VERSIONS
        }  # fmt: skip
        shared = run_shared_store_workload(server.grpc_target, keys.ingest, SHARED_SERVICE)
        expected = sum(m["summary"]["span_count"] for m in manifests.values()) + len(shared)
        _wait_until_indexed(data_dir, server, expected)
        server.stop()  # DuckDB opens read-only only once the server let go of the file
        with SpanStore.open_readonly(data_dir / "spans.duckdb") as store:
            rows = query_dicts(store, "SELECT * FROM spans")
        server.start()
        yield Served(server, data_dir, keys.read, manifests, shared, rows)


@pytest.fixture(scope="module", params=SDK_VERSIONS)
def sdk(request: pytest.FixtureRequest) -> str:
    version: str = request.param
    return version


@pytest.fixture(scope="module")
def stored(served: Served, sdk: str) -> tuple[dict, list[dict], list[dict]]:
    spans = [row for row in served.rows if row["service_name"] == service_of(sdk)]
    changes = [  # the set_state events workflow replay reads
        event["attributes"]
        for span in spans
        for event in json.loads(span["events_json"])
        if event["name"] == "set_state"
    ]
    return served.manifests[sdk], spans, changes


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
        assert row["service_name"] == service_of(manifest["packages"]["junjo"])
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


def test_the_workload_ran_on_the_sdk_release_it_names(served: Served, sdk: str):
    manifest = served.manifests[sdk]
    assert manifest["packages"]["junjo"] == sdk
    contract = 3 if sdk == NEWEST_SDK else 2
    owners = [s for s in manifest["spans"] if s["attributes"].get("junjo.span_type") in OWNER_TYPES]
    assert {s["attributes"]["junjo.telemetry.contract_version"] for s in owners} == {contract}


def test_every_workflow_run_reconstructs_complete(served: Served, sdk: str):
    manifest = served.manifests[sdk]
    final_states = manifest["summary"]["final_states"]
    owners = [s for s in manifest["spans"] if s["attributes"].get("junjo.span_type") in OWNER_TYPES]
    assert len(owners) == 6  # two runs of two workflows, one with a subflow
    for owner in owners:
        execution = served.execution(owner)
        assert execution["integrity"] == {"verdict": "complete", "reasons": []}, owner["name"]
        store_id = owner["attributes"]["junjo.workflow.store.id"]
        assert execution["store"]["replayed_state_end"] == final_states[store_id]


def _shared_owners(served: Served) -> dict[str, dict[str, Any]]:
    return {
        s["name"]: s
        for s in served.shared_spans
        if s["attributes"].get("junjo.span_type") in OWNER_TYPES
    }


def test_runs_sharing_a_store_reconstruct_complete(served: Served):
    owners = _shared_owners(served)
    assert set(owners) == {
        "Shared Intake", "Shared Audit", "Checkpoint Warmup", "Checkpoint Resume", "Agent Desk"
    }  # fmt: skip
    for name, owner in owners.items():
        attrs = owner["attributes"]
        execution = served.execution(owner)
        assert execution["integrity"] == {"verdict": "complete", "reasons": []}, name
        assert execution["store"]["replayed_state_end"] == json.loads(
            attrs["junjo.workflow.state.end"]
        )
        start, end = attrs["junjo.store.transition.start"], attrs["junjo.store.transition.end"]
        assert [t["sequence"] for t in execution["transitions"]] == list(range(start + 1, end + 1))
    intake, audit = owners["Shared Intake"], owners["Shared Audit"]
    assert (
        intake["attributes"]["junjo.workflow.store.id"]
        == audit["attributes"]["junjo.workflow.store.id"]
    )
    # Each run's window holds writes made by the other run's node spans.
    audit_writers = {t["span_id"] for t in served.execution(audit)["transitions"]}
    intake_nodes = {
        s["span_id"] for s in served.shared_spans if s["parent_span_id"] == intake["span_id"]
    }
    assert audit_writers & intake_nodes
    assert owners["Checkpoint Resume"]["attributes"]["junjo.store.transition.start"] > 0
    desk = served.execution(owners["Agent Desk"])
    assert "tool record_note" in {t["span_name"] for t in desk["transitions"]}


def test_an_agent_with_an_application_store_reconstructs_complete(served: Served):
    agent = next(s for s in served.shared_spans if s["name"] == "Desk Agent")
    execution = served.execution(agent)
    assert execution["integrity"] == {"verdict": "complete", "reasons": []}
    assert execution["store"]["replayed_state_end"] == json.loads(
        agent["attributes"]["junjo.agent.application_state.end"]
    )
    shown = run_cli(served.data_dir, "traces", "show", agent["trace_id"], "--state", "--json")
    verdicts = {
        w["span"]["name"]: w["integrity"]["verdict"] for w in json.loads(shown.stdout)["workflows"]
    }
    assert verdicts == {"Agent Desk": "complete", "Desk Agent": "complete"}


def test_traces_show_state_and_the_trace_summary_handle_a_shared_store(served: Served):
    batch = next(s for s in served.shared_spans if s["name"] == "Shared Store Batch")
    trace_id = batch["trace_id"]
    summary = served.get(f"/api/v1/traces/{trace_id}")["summary"]
    assert (summary["root_name"], summary["span_count"]) == ("Shared Store Batch", 5)
    shown = run_cli(served.data_dir, "traces", "show", trace_id, "--state", "--json")
    assert shown.returncode == 0, shown.stderr
    verdicts = {w["span"]["name"]: w["integrity"] for w in json.loads(shown.stdout)["workflows"]}
    complete = {"verdict": "complete", "reasons": []}
    assert verdicts == {"Shared Intake": complete, "Shared Audit": complete}
    text = run_cli(served.data_dir, "traces", "show", trace_id, "--state")
    assert text.stdout.count("integrity: complete") == 2
