"""Workflow execution over real junjo SDK spans (fixtures) and deliberately damaged copies."""

from __future__ import annotations

import json
import random
from itertools import pairwise
from typing import Any

import pytest

from junjo.features.workflows.execution import build_workflow_execution
from junjo.kernel.errors import InvalidInput, NotFound
from tests.workflows.helpers import (
    LEGACY_TICKET,
    ORDER_FAILED,
    TICKET,
    codes,
    deep,
    delete_set_state,
    load,
    reason,
    set_state_event,
    span_named,
    state_end,
    store_id,
)

WORKFLOW, SUBFLOW = "Support Ticket Triage", "Summarize"


def execution(spans: list[dict[str, Any]], name: str = WORKFLOW, **kwargs: Any) -> dict[str, Any]:
    return build_workflow_execution(spans, span_named(spans, name)["span_id"], **kwargs)


# -- real runs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "owner"),
    [(TICKET, WORKFLOW), (TICKET, SUBFLOW), (ORDER_FAILED, "Order Enrichment")],
)
def test_real_run_replays_to_state_end_and_is_complete(fixture: str, owner: str) -> None:
    spans = load(fixture)
    result = execution(spans, owner)
    span = span_named(spans, owner)
    assert result["integrity"] == {"verdict": "complete", "reasons": []}
    assert result["store"]["replayed_state_end"] == state_end(span)
    transitions = result["transitions"]
    assert [t["sequence"] for t in transitions] == list(range(1, len(transitions) + 1))
    assert len(transitions) == span["attributes"]["junjo.store.transition.count"]
    assert transitions[-1]["state_after"] == state_end(span)
    assert transitions[0]["state_before"] == json.loads(
        span["attributes"]["junjo.workflow.state.start"]
    )
    for previous, current in pairwise(transitions):
        assert current["state_before"] == previous["state_after"]
    assert all(t["state_reliable"] and t["patch_error"] is None for t in transitions)


def test_concurrent_writes_are_ordered_by_sequence_not_by_span() -> None:
    spans = load(TICKET)
    actions = [t["action"] for t in execution(spans)["transitions"]]
    assert actions == [
        "set_words", "set_context", "set_sentiment", "set_word_count", "set_summary",
        "mark_escalated", "set_status", "confirm_status",
    ]  # fmt: skip


def test_transition_fields() -> None:
    spans = load(TICKET)
    result = execution(spans)
    by_action = {t["action"]: t for t in result["transitions"]}
    count = by_action["set_word_count"]
    node_span = span_named(spans, "CountWordsNode")
    event = set_state_event(spans, "set_word_count")
    assert count["span_id"] == count["node_span_id"] == node_span["span_id"]
    assert count["node_name"] == "CountWordsNode"
    assert count["node_id"] == node_span["attributes"]["junjo.executable_runtime_id"]
    assert count["event_id"] == event["attributes"]["id"]
    assert count["time_ns"] == int(event["timeUnixNano"])
    assert count["time"].endswith("+00:00") and count["time"][:4].isdigit()
    assert (count["store_name"], count["store_id"]) == (
        "TicketStore",
        store_id(span_named(spans, WORKFLOW)),
    )
    assert (count["revision_before"], count["revision_after"]) == (3, 4)
    assert count["patch"] == [{"op": "replace", "path": "/word_count", "value": 10}]
    noop = by_action["confirm_status"]
    assert noop["patch"] == [] and noop["revision_before"] == noop["revision_after"] == 7
    assert noop["state_before"] == noop["state_after"]
    store = result["store"]
    assert store["name"] == "TicketStore" and store["ordering"] == "sequence"
    assert (store["revision_start"], store["revision_end"], store["transition_count"]) == (0, 7, 8)
    assert store["reconstructable"] is True and store["parent_store_id"] is None


def test_subflow_writes_to_the_parent_store_appear_on_the_parent_timeline() -> None:
    spans = load(TICKET)
    subflow = span_named(spans, SUBFLOW)
    parent = execution(spans)["transitions"]
    (write,) = [t for t in parent if t["span_id"] == subflow["span_id"]]
    assert (write["action"], write["store_name"], write["sequence"]) == (
        "set_summary",
        "TicketStore",
        5,
    )
    assert write["node_name"] == SUBFLOW
    assert write["node_id"] == subflow["attributes"]["junjo.executable_definition_id"]
    assert write["state_after"]["summary"].endswith("(polished)")
    own = execution(spans, SUBFLOW)
    assert [t["action"] for t in own["transitions"]] == ["load_words", "set_draft", "set_summary"]
    assert {t["store_name"] for t in own["transitions"]} == {"SummaryStore"}
    assert own["store"]["parent_store_id"] == store_id(span_named(spans, WORKFLOW))
    assert own["transitions"][0]["node_id"] is None  # written by the subflow span itself


def test_llm_child_spans_map_to_their_node() -> None:
    spans = load(TICKET)
    result = execution(spans)
    llm = span_named(spans, "fake_llm.generate_content")
    node = span_named(spans, "DetectSentimentNode")
    node_id = node["attributes"]["junjo.executable_runtime_id"]
    assert result["span_nodes"][llm["span_id"]] == node_id
    assert result["node_spans"][node_id] == [node["span_id"], llm["span_id"]]
    assert result["unmapped_span_ids"] == []


def test_spans_inside_a_subflow_match_the_parent_graph_by_structural_id() -> None:
    spans = load(TICKET)
    result = execution(spans)
    (subflow,) = result["graph"]["subflows"]
    inner = {n["label"]: n for n in subflow["graph"]["nodes"]}
    polish_span = span_named(spans, "PolishSummaryNode")
    chat_span = span_named(spans, "chat fake-chat-1")
    polish_node = inner["PolishSummaryNode"]
    # The runtime-id pitfall (contract §2.4): the parent snapshot's ids are not the span's.
    assert polish_node["runtime_id"] != polish_span["attributes"]["junjo.executable_runtime_id"]
    assert (
        polish_node["structural_id"] == polish_span["attributes"]["junjo.executable_structural_id"]
    )
    assert result["node_spans"][polish_node["id"]] == [polish_span["span_id"], chat_span["span_id"]]
    # In the subflow's own execution its own snapshot's runtime ids match directly.
    own = execution(spans, SUBFLOW)
    runtime_id = polish_span["attributes"]["junjo.executable_runtime_id"]
    assert own["node_spans"][runtime_id] == [polish_span["span_id"], chat_span["span_id"]]


def test_every_executed_node_maps_and_unexecuted_nodes_are_empty() -> None:
    spans = load(ORDER_FAILED)
    result = execution(spans, "Order Enrichment")
    labels = {n["id"]: n["label"] for n in result["graph"]["nodes"]}
    ran = {labels[i] for i, s in result["node_spans"].items() if s}
    assert ran == {"LoadOrderNode", "Enrich", "PriceLookupNode", "CheckInventoryNode",
                   "ShippingQuoteNode"}  # fmt: skip
    confirm = next(i for i, label in labels.items() if label == "ConfirmOrderNode")
    assert result["node_spans"][confirm] == []
    assert "executed" in result["mermaid"]["definition"]
    summary = result["span"]
    assert (summary["status_code"], summary["error_type"]) == (2, "InventoryServiceError")


# -- damaged evidence ------------------------------------------------------------------------


def test_deleting_one_set_state_gives_partial_with_the_gap_named() -> None:
    spans = load(TICKET)
    delete_set_state(spans, "set_context")  # sequence 2
    result = execution(spans)
    assert result["integrity"]["verdict"] == "partial"
    gap = reason(result, "sequence_gap")
    assert gap["missing"] == [2] and gap["missing_ranges"] == [[2, 2]]
    assert "2" in gap["message"]
    # The lost write also shows in the replay; revisions are not blamed for a gap.
    assert set(codes(result)) == {"sequence_gap", "replay_mismatch"}
    assert reason(result, "replay_mismatch")["paths"] == ["/context"]
    reliable = [t["state_reliable"] for t in result["transitions"]]
    assert reliable == [True] + [False] * 6


def test_deleting_the_last_set_state_is_caught_by_the_transition_count() -> None:
    spans = load(TICKET)
    delete_set_state(spans, "confirm_status")  # sequence 8, a no-op: the state still matches
    result = execution(spans)
    assert codes(result) == ["sequence_gap"]
    assert reason(result, "sequence_gap")["missing"] == [8]


def test_many_missing_sequences_are_summarized() -> None:
    spans = load(TICKET)
    span_named(spans, WORKFLOW)["attributes"]["junjo.store.transition.count"] = 10_000_000
    gap = reason(execution(spans), "sequence_gap")
    assert gap["missing_count"] == 10_000_000 - 8
    assert gap["missing"][:2] == [9, 10] and len(gap["missing"]) == 100
    assert gap["missing_ranges"] == [[9, 10_000_000]]


@pytest.mark.parametrize(
    "bad_patch",
    [
        '[{"op":"replace","path":"/no_such_field","value":1}]',
        '[{"op":"replace","path":"/word_count","val',  # cut off by an attribute length limit
        '{"op":"replace"}',
    ],
)
def test_a_corrupted_patch_gives_patch_error(bad_patch: str) -> None:
    spans = load(TICKET)
    set_state_event(spans, "set_word_count")["attributes"]["junjo.state_json_patch"] = bad_patch
    result = execution(spans)
    assert result["integrity"]["verdict"] == "partial"
    error = reason(result, "patch_error")
    assert (
        error["sequence"] == 4
        and error["span_id"] == span_named(spans, "CountWordsNode")["span_id"]
    )
    assert "replay_mismatch" in codes(result)  # word_count never got its value
    broken = result["transitions"][3]
    assert broken["patch_error"] and broken["state_after"] is None
    assert broken["state_before"] == result["transitions"][2]["state_after"]
    assert [t["state_reliable"] for t in result["transitions"]] == [True] * 3 + [False] * 5
    assert result["transitions"][4]["state_after"]["summary"]  # the replay went on


def test_changed_state_end_gives_replay_mismatch() -> None:
    spans = load(TICKET)
    owner = span_named(spans, WORKFLOW)
    end = state_end(owner) | {"status": "tampered"}
    owner["attributes"]["junjo.workflow.state.end"] = json.dumps(end)
    result = execution(spans)
    assert codes(result) == ["replay_mismatch"]
    assert reason(result, "replay_mismatch")["paths"] == ["/status"]


@pytest.mark.parametrize(
    ("action", "changes", "detail"),
    [
        ("set_word_count", {"after": 9}, "transition 4 goes from revision 3 to 9"),
        ("set_word_count", {"before": 2, "after": 3}, "transition 4 starts at revision 2, not 3"),
        ("set_words", {"before": 5, "after": 6}, "transition 1 starts at revision 5, not 0"),
        ("set_status", {"before": None}, "transition 7 has no revision numbers"),
    ],
)
def test_inconsistent_event_revisions_give_revision_mismatch(
    action: str, changes: dict[str, int | None], detail: str
) -> None:
    spans = load(TICKET)
    attrs = set_state_event(spans, action)["attributes"]
    for which, value in changes.items():
        key = f"junjo.store.revision.{which}"
        if value is None:
            del attrs[key]
        else:
            attrs[key] = value
    result = execution(spans)
    assert codes(result) == ["revision_mismatch"]
    assert detail in reason(result, "revision_mismatch")["details"]


@pytest.mark.parametrize(
    ("attribute", "value", "detail"),
    [
        ("junjo.store.revision.end", 6, "revision.end is 6"),
        ("junjo.store.transition.count", 5, "transition.count is 5 but transition 8 exists"),
    ],
)
def test_owner_revision_attributes_that_disagree_give_revision_mismatch(
    attribute: str, value: int, detail: str
) -> None:
    spans = load(TICKET)
    span_named(spans, WORKFLOW)["attributes"][attribute] = value
    result = execution(spans)
    assert codes(result) == ["revision_mismatch"]
    assert any(detail in d for d in reason(result, "revision_mismatch")["details"])


def test_dropped_events_on_a_relevant_span() -> None:
    spans = load(TICKET)
    span_named(spans, "FinalizeNode")["dropped_events_count"] = 3
    span_named(spans, "DraftSummaryNode")["dropped_events_count"] = 1  # inside the subflow
    result = execution(spans)
    dropped = reason(result, "dropped_events")
    assert codes(result) == ["dropped_events"]
    assert dropped["dropped_count"] == 4
    assert [s["name"] for s in dropped["spans"]] == ["DraftSummaryNode", "FinalizeNode"]
    # The subflow's own view only sees its own subtree.
    assert reason(execution(spans, SUBFLOW), "dropped_events")["dropped_count"] == 1


def test_dropped_attributes_on_a_store_event() -> None:
    spans = load(TICKET)
    set_state_event(spans, "set_words")["droppedAttributesCount"] = 2
    assert codes(execution(spans)) == ["dropped_attributes"]


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, None), ('{"ticket_id": "T-0", "raw_te', None), ('{"a":1}', "redacted")],
)
def test_unusable_state_start_gives_missing_state_start(
    value: str | None, mode: str | None
) -> None:
    spans = load(TICKET)
    attrs = span_named(spans, WORKFLOW)["attributes"]
    if value is None:
        del attrs["junjo.workflow.state.start"]
    else:
        attrs["junjo.workflow.state.start"] = value
    if mode:
        attrs["junjo.workflow.state.start.mode"] = mode
    result = execution(spans)
    assert codes(result) == ["missing_state_start"]
    assert len(result["transitions"]) == 8
    assert all(t["patch"] is not None and t["state_after"] is None for t in result["transitions"])
    assert not any(t["state_reliable"] for t in result["transitions"])
    assert result["store"]["replayed_state_end"] is None


def test_missing_state_end_and_store_id() -> None:
    spans = load(TICKET)
    attrs = span_named(spans, WORKFLOW)["attributes"]
    del attrs["junjo.workflow.state.end"]
    assert codes(execution(spans)) == ["missing_state_end"]
    del attrs["junjo.workflow.store.id"]
    result = execution(spans)
    assert "missing_store_id" in codes(result) and result["transitions"] == []


def test_duplicate_and_invalid_sequences() -> None:
    spans = load(TICKET)
    set_state_event(spans, "set_word_count")["attributes"]["junjo.store.transition.sequence"] = 3
    set_state_event(spans, "mark_escalated")["attributes"]["junjo.store.transition.sequence"] = "x"
    result = execution(spans)
    assert reason(result, "duplicate_sequence")["sequences"] == [3]
    invalid = reason(result, "invalid_sequence")
    assert invalid["event_ids"] == [set_state_event(spans, "mark_escalated")["attributes"]["id"]]
    assert result["transitions"][-1]["action"] == "mark_escalated"  # unsequenced ones go last
    assert {"sequence_gap", "duplicate_sequence", "invalid_sequence"} <= set(codes(result))


def test_sdk_reported_unreconstructable_store() -> None:
    spans = load(TICKET)
    span_named(spans, WORKFLOW)["attributes"]["junjo.store.reconstructable"] = False
    assert codes(execution(spans)) == ["sdk_not_reconstructable"]


def test_missing_or_broken_graph_is_a_reason_not_an_error() -> None:
    spans = load(TICKET)
    attrs = span_named(spans, WORKFLOW)["attributes"]
    attrs["junjo.workflow.execution_graph_snapshot"] = '{"v":2,"nodes":[{"nodeLab'
    result = execution(spans)
    assert codes(result) == ["invalid_graph"]
    assert result["graph"]["nodes"] == [] and result["transitions"][0]["node_id"] is None
    del attrs["junjo.workflow.execution_graph_snapshot"]
    result = execution(spans)
    assert codes(result) == ["missing_graph"]
    assert result["graph"] is None and result["mermaid"] is None and result["node_spans"] == {}
    assert len(result["unmapped_span_ids"]) == 12


# -- legacy (SDK <= 0.62) ----------------------------------------------------------------------


def test_legacy_run_replays_in_time_order_and_is_complete() -> None:
    spans = load(LEGACY_TICKET)
    result = execution(spans)
    assert result["integrity"] == {"verdict": "complete", "reasons": []}
    assert result["store"]["ordering"] == "time"
    assert result["store"]["replayed_state_end"] == state_end(span_named(spans, WORKFLOW))
    transitions = result["transitions"]
    assert [t["sequence"] for t in transitions] == [None] * 7
    assert [t["position"] for t in transitions] == list(range(1, 8))
    assert transitions[-1]["patch"] == []  # the legacy no-op patch "{}"
    assert result["span"]["legacy"] is True and result["span"]["contract_version"] is None
    times = [t["time_ns"] for t in transitions]
    assert times == sorted(times)


def test_legacy_graph_maps_every_span_including_the_subflow_inside() -> None:
    spans = load(LEGACY_TICKET)
    result = execution(spans)
    assert result["graph"]["version"] == 1
    assert result["unmapped_span_ids"] == []
    (subflow,) = result["graph"]["subflows"]
    (inner,) = subflow["graph"]["nodes"]
    draft = span_named(spans, "DraftSummaryNode")
    assert inner["id"] != draft["attributes"]["junjo.id"]  # the legacy throwaway-graph ids
    assert result["node_spans"][inner["id"]] == [draft["span_id"]]
    llm = span_named(spans, "llm.generate")
    assert (
        result["span_nodes"][llm["span_id"]]
        == span_named(spans, "DetectSentimentNode")["attributes"]["junjo.id"]
    )
    subflow_write = next(t for t in result["transitions"] if t["node_name"] == SUBFLOW)
    assert subflow_write["action"] == "set_summary"


def test_legacy_deleted_event_shows_as_replay_mismatch() -> None:
    spans = load(LEGACY_TICKET)
    delete_set_state(spans, "set_word_count")
    assert codes(execution(spans)) == ["replay_mismatch"]  # no sequences to name a gap


# -- API contract ------------------------------------------------------------------------------


def test_unknown_span_is_not_found_and_non_owner_is_invalid() -> None:
    spans = load(TICKET)
    with pytest.raises(NotFound):
        build_workflow_execution(spans, "0123456789abcdef")
    with pytest.raises(InvalidInput, match="node, not a workflow or subflow"):
        execution(spans, "NormalizeNode")
    with pytest.raises(InvalidInput, match="non-Junjo span"):
        execution(spans, "fake_llm.generate_content")
    with pytest.raises(InvalidInput):
        build_workflow_execution(spans, None)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        build_workflow_execution([], "0123456789abcdef")


def test_output_is_deterministic_json_whatever_the_span_order() -> None:
    spans = load(TICKET)
    owner = span_named(spans, WORKFLOW)["span_id"]
    expected = json.dumps(build_workflow_execution(spans, owner), allow_nan=False)
    for seed in range(5):
        shuffled = list(spans)
        random.Random(seed).shuffle(shuffled)
        assert json.dumps(build_workflow_execution(shuffled, owner), allow_nan=False) == expected


def test_input_spans_are_not_mutated() -> None:
    spans = load(TICKET)
    before = deep(spans)
    execution(spans)
    execution(spans, SUBFLOW)
    assert spans == before


def test_include_states_false_drops_only_the_states() -> None:
    spans = load(TICKET)
    result = execution(spans, include_states=False)
    assert all(
        t["state_before"] is None and t["state_after"] is None for t in result["transitions"]
    )
    assert result["integrity"]["verdict"] == "complete"
    assert result["store"]["replayed_state_end"] == state_end(span_named(spans, WORKFLOW))


def test_the_run_summary_names_its_owner_and_correlation() -> None:
    spans = load(TICKET)
    workflow, subflow = execution(spans)["span"], execution(spans, SUBFLOW)["span"]
    assert (workflow["name"], workflow["span_type"]) == (WORKFLOW, "workflow")
    assert (subflow["name"], subflow["span_type"]) == (SUBFLOW, "subflow")
    assert subflow["parent_owner_span_id"] == workflow["span_id"]
    assert workflow["parent_owner_span_id"] is None
    assert workflow["correlation"] == {"type": "e2e.run", "id": "run-0"}
    assert workflow["contract_version"] == 2 and workflow["legacy"] is False


# -- malformed input never escapes as an exception ------------------------------------------


def _junk(rng: random.Random) -> Any:
    return rng.choice(
        [None, "", "{", "[]", "{}", -1, 2**70, 1.5, True, [], {}, ["x"], {"a": None}, "null"]
    )


def _corrupt(value: Any, rng: random.Random, rate: float) -> Any:
    if rng.random() < rate:
        return _junk(rng)
    if isinstance(value, dict):
        return {k: _corrupt(v, rng, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_corrupt(v, rng, rate) for v in value]
    return value


@pytest.mark.parametrize("fixture", [TICKET, ORDER_FAILED, LEGACY_TICKET])
def test_randomly_corrupted_spans_never_raise(fixture: str) -> None:
    pristine = load(fixture)
    owners = [s["span_id"] for s in pristine if s["attributes"].get("junjo.span_type")
              in ("workflow", "subflow")]  # fmt: skip
    for seed in range(150):
        rng = random.Random(seed)
        spans = _corrupt(deep(pristine), rng, rate=rng.choice([0.01, 0.05, 0.2]))
        for owner in owners:
            try:
                result = build_workflow_execution(spans, owner)
            except (NotFound, InvalidInput):
                continue  # the corruption hit the owner's own id or span type
            json.dumps(result, allow_nan=False)
            assert result["integrity"]["verdict"] in ("complete", "partial")


def test_structurally_odd_traces_never_raise() -> None:
    spans = load(TICKET)
    owner = span_named(spans, WORKFLOW)
    node = span_named(spans, "NormalizeNode")
    # A parent cycle, a span pointing at itself, a duplicate and a span without an id.
    node["parent_span_id"] = span_named(spans, "RetrieveContextNode")["span_id"]
    span_named(spans, "RetrieveContextNode")["parent_span_id"] = node["span_id"]
    span_named(spans, "EscalateNode")["parent_span_id"] = span_named(spans, "EscalateNode")[
        "span_id"
    ]
    span_named(spans, "FinalizeNode")["events"] = "nope"
    span_named(spans, "CountWordsNode")["attributes"] = None
    spans += [deep([owner])[0], {"name": "no id"}, "not a span"]  # type: ignore[list-item]
    result = build_workflow_execution(spans, owner["span_id"])
    assert result["integrity"]["verdict"] == "partial"
    assert "sequence_gap" in codes(result)
