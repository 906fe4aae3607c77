"""Telemetry contract 3 (junjo 0.69.0): Stores shared between executions, over real SDK spans.

A contract-3 owner replays the transitions of its Store in ``(transition.start,
transition.end]``: writes of a sibling execution on the same Store inside that window are part
of it, writes outside it (an earlier run, a later sibling) are not.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest

from junjo.features.workflows.execution import build_workflow_execution
from tests.workflows.helpers import (
    AGENT_DESK,
    CHECKPOINT_RESUME,
    SHARED_STORE,
    codes,
    load,
    reason,
    span_named,
    state_end,
    store_id,
)

INTAKE, AUDIT = "Shared Intake", "Shared Audit"


def execution(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return build_workflow_execution(spans, span_named(spans, name)["span_id"])


def window(span: dict[str, Any]) -> tuple[int, int]:
    attrs = span["attributes"]
    return attrs["junjo.store.transition.start"], attrs["junjo.store.transition.end"]


def event_sequences(spans: list[dict[str, Any]], node_parent: dict[str, Any]) -> list[int]:
    """Sequences written by the nodes under one workflow span."""
    return sorted(
        e["attributes"]["junjo.store.transition.sequence"]
        for s in spans
        if s["parent_span_id"] == node_parent["span_id"]
        for e in s["events"]
        if e["name"] == "set_state"
    )


@pytest.mark.parametrize(
    ("fixture", "owner"),
    [
        (SHARED_STORE, INTAKE),
        (SHARED_STORE, AUDIT),
        (CHECKPOINT_RESUME, "Checkpoint Resume"),
        (AGENT_DESK, "Agent Desk"),
    ],
)
def test_contract_3_run_replays_its_window_and_is_complete(fixture: str, owner: str) -> None:
    spans = load(fixture)
    span = span_named(spans, owner)
    assert span["attributes"]["junjo.telemetry.contract_version"] == 3
    result = execution(spans, owner)
    start, end = window(span)
    assert result["integrity"] == {"verdict": "complete", "reasons": []}
    transitions = result["transitions"]
    assert [t["sequence"] for t in transitions] == list(range(start + 1, end + 1))
    assert (result["store"]["transition_start"], result["store"]["transition_end"]) == (start, end)
    assert transitions[0]["state_before"] == json.loads(
        span["attributes"]["junjo.workflow.state.start"]
    )
    for previous, current in pairwise(transitions):
        assert current["state_before"] == previous["state_after"]
    assert (
        result["store"]["replayed_state_end"] == state_end(span) == transitions[-1]["state_after"]
    )


def test_a_shared_store_window_holds_the_sibling_runs_writes() -> None:
    spans = load(SHARED_STORE)
    intake, audit = span_named(spans, INTAKE), span_named(spans, AUDIT)
    assert store_id(intake) == store_id(audit)
    own = event_sequences(spans, audit)
    start, _ = window(audit)
    assert start > 0  # the sibling wrote before this run began
    replayed = [t["sequence"] for t in execution(spans, AUDIT)["transitions"]]
    sibling = sorted(set(replayed) - set(own))
    assert sibling and set(sibling) <= set(event_sequences(spans, intake))
    assert all(seq <= start for seq in set(event_sequences(spans, intake)) - set(replayed))


def test_a_lost_sibling_write_inside_the_window_makes_the_run_partial() -> None:
    spans = load(SHARED_STORE)
    audit = span_named(spans, AUDIT)
    sibling_seq = min(
        set(event_sequences(spans, span_named(spans, INTAKE))) - set(event_sequences(spans, audit))
        - set(range(window(audit)[0] + 1))
    )  # fmt: skip
    for span in spans:
        span["events"] = [
            e
            for e in span["events"]
            if e["attributes"].get("junjo.store.transition.sequence") != sibling_seq
        ]
    result = execution(spans, AUDIT)
    assert result["integrity"]["verdict"] == "partial"
    assert reason(result, "sequence_gap")["missing"] == [sibling_seq]


def test_a_run_from_a_nonzero_checkpoint_is_not_missing_the_earlier_transitions() -> None:
    spans = load(CHECKPOINT_RESUME)
    span = span_named(spans, "Checkpoint Resume")
    start, _ = window(span)
    assert start > 0 and span["attributes"]["junjo.store.revision.start"] > 0
    result = execution(spans, "Checkpoint Resume")
    assert "sequence_gap" not in codes(result)
    assert result["store"]["state_start"]["entries"]  # the earlier run's state


def test_losing_the_last_transition_of_the_window_is_a_gap() -> None:
    spans = load(CHECKPOINT_RESUME)
    _, end = window(span_named(spans, "Checkpoint Resume"))
    for span in spans:
        span["events"] = [
            e
            for e in span["events"]
            if e["attributes"].get("junjo.store.transition.sequence") != end
        ]
    result = execution(spans, "Checkpoint Resume")
    assert reason(result, "sequence_gap")["missing"] == [end]


def test_a_window_that_disagrees_with_the_transition_count_is_a_revision_mismatch() -> None:
    spans = load(CHECKPOINT_RESUME)
    span = span_named(spans, "Checkpoint Resume")
    span["attributes"]["junjo.store.transition.count"] += 1
    result = execution(spans, "Checkpoint Resume")
    assert "transition.count is" in reason(result, "revision_mismatch")["message"]


def test_an_agent_tool_write_to_the_workflow_store_is_on_the_workflow_timeline() -> None:
    spans = load(AGENT_DESK)
    agent = span_named(spans, "Desk Agent")
    workflow = span_named(spans, "Agent Desk")
    assert agent["attributes"]["junjo.agent.application_store.id"] == store_id(workflow)
    result = execution(spans, "Agent Desk")
    tool_writes = [t for t in result["transitions"] if t["span_name"] == "tool record_note"]
    assert [t["patch"] for t in tool_writes] == [
        [{"op": "replace", "path": "/note", "value": "ok"}]
    ]
    # The agent's private runtime Store (junjo.agent.store.id) is not the workflow's.
    assert {t["store_id"] for t in result["transitions"]} == {store_id(workflow)}


def test_an_agent_replays_its_application_store_window() -> None:
    spans = load(AGENT_DESK)
    agent = span_named(spans, "Desk Agent")
    attrs = agent["attributes"]
    result = execution(spans, "Desk Agent")
    assert result["integrity"] == {"verdict": "complete", "reasons": []}
    assert result["graph"] is None and result["span"]["span_type"] == "agent"
    assert (
        result["store"]["id"]
        == result["span"]["store_id"]
        == store_id(span_named(spans, "Agent Desk"))
    )
    start = attrs["junjo.agent.application_store.transition.start"]
    end = attrs["junjo.agent.application_store.transition.end"]
    assert start > 0  # the node wrote before it ran the agent
    assert [t["sequence"] for t in result["transitions"]] == list(range(start + 1, end + 1))
    assert result["store"]["replayed_state_end"] == json.loads(
        attrs["junjo.agent.application_state.end"]
    )


def test_an_agent_whose_application_store_write_is_lost_is_partial() -> None:
    spans = load(AGENT_DESK)
    tool = span_named(spans, "tool record_note")
    app_store = span_named(spans, "Desk Agent")["attributes"]["junjo.agent.application_store.id"]
    tool["events"] = [
        e for e in tool["events"] if e["attributes"].get("junjo.store.id") != app_store
    ]
    result = execution(spans, "Desk Agent")
    assert result["integrity"]["verdict"] == "partial"
    assert {"sequence_gap", "replay_mismatch"} <= set(codes(result))
