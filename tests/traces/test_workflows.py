"""Workflow executions of real junjo SDK runs, reconstructed server side."""

import pytest

from tests.traces.conftest import Seeded

pytestmark = pytest.mark.slow


def owners(seeded: Seeded) -> list[dict]:
    spans = seeded.manifest["spans"]
    return [s for s in spans if s["attributes"].get("junjo.span_type") in ("workflow", "subflow")]


def test_every_run_replays_to_its_end_state(seeded: Seeded):
    final_states = seeded.manifest["summary"]["final_states"]
    assert len(owners(seeded)) == 3  # two workflows and a subflow
    for owner in owners(seeded):
        response = seeded.get(f"/api/v1/traces/{owner['trace_id']}/workflows/{owner['span_id']}")
        assert response.status_code == 200
        execution = response.json()
        assert execution["integrity"] == {"verdict": "complete", "reasons": []}
        store_id = owner["attributes"]["junjo.workflow.store.id"]
        assert execution["store"]["replayed_state_end"] == final_states[store_id]
        transitions = execution["transitions"]
        assert [t["sequence"] for t in transitions] == list(range(1, len(transitions) + 1))
        assert transitions[-1]["state_after"] == final_states[store_id]


def test_parent_store_writes_from_the_subflow_are_on_the_parent_timeline(seeded: Seeded):
    workflow = next(o for o in owners(seeded) if o["name"] == "Support Ticket Triage")
    execution = seeded.get(
        f"/api/v1/traces/{workflow['trace_id']}/workflows/{workflow['span_id']}"
    ).json()
    writers = {t["span_name"] for t in execution["transitions"]}
    assert "Summarize" in writers  # the subflow's post-run write to the parent store
    assert execution["graph"]["nodes"] and execution["mermaid"]["definition"]


def test_failed_run_still_reconstructs(seeded: Seeded):
    failed = next(o for o in owners(seeded) if o["name"] == "Order Enrichment")
    execution = seeded.get(
        f"/api/v1/traces/{failed['trace_id']}/workflows/{failed['span_id']}"
    ).json()
    assert execution["span"]["status_code"] == 2
    assert execution["integrity"]["verdict"] == "complete"


def test_errors(seeded: Seeded):
    workflow = owners(seeded)[0]
    trace = workflow["trace_id"]
    assert seeded.get(f"/api/v1/traces/{trace}/workflows/{'ab' * 8}").status_code == 404
    assert seeded.get(f"/api/v1/traces/{'ab' * 16}/workflows/{'ab' * 8}").status_code == 404
    assert seeded.get(f"/api/v1/traces/{trace}/workflows/nothex").status_code == 422
    node = next(
        s
        for s in seeded.manifest["spans"]
        if s["trace_id"] == trace and s["attributes"].get("junjo.span_type") == "node"
    )
    assert seeded.get(f"/api/v1/traces/{trace}/workflows/{node['span_id']}").status_code == 422


def test_cli_shows_transitions_as_diffs(seeded: Seeded):
    workflow = next(o for o in owners(seeded) if o["name"] == "Support Ticket Triage")
    shown = seeded.cli("traces", "show", workflow["trace_id"], "--state")
    assert shown.returncode == 0, shown.stderr
    assert "integrity: complete" in shown.stdout
    assert "~ /summary" in shown.stdout or "+ /summary" in shown.stdout
