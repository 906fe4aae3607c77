"""Graph snapshots (v2 and legacy v1) → the normalized nested graph, and its Mermaid text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from junjo.features.workflows.graph import (
    all_nodes,
    graph_to_mermaid,
    iter_levels,
    normalize_graph,
)
from tests.workflows.helpers import LEGACY_TICKET, TICKET, load, span_named

V2 = "junjo.workflow.execution_graph_snapshot"
V1 = "junjo.workflow.graph_structure"


def graph_of(fixture: str, name: str) -> dict[str, Any]:
    graph = normalize_graph(span_named(load(fixture), name)["attributes"])
    assert graph is not None
    return graph


def labels(level: dict[str, Any]) -> list[str]:
    return [n["label"] for n in level["nodes"]]


def edges_by_label(level: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    names = {n["id"]: n["label"] for _, lv in iter_levels(level) for n in lv["nodes"]}
    return {(names[e["tail"]], names[e["head"]], e["condition"]) for e in level["edges"]}


TOP_EDGES = {
    ("NormalizeNode", "Analyze", None),
    ("Analyze", "Summarize", None),
    ("Summarize", "EscalateNode", "SentimentIsNegative"),
    ("Summarize", "FinalizeNode", None),
    ("EscalateNode", "FinalizeNode", None),
}


def test_v2_snapshot_of_the_real_workflow() -> None:
    graph = graph_of(TICKET, "Support Ticket Triage")
    assert graph["version"] == 2 and graph["problems"] == []
    assert graph["graph_structural_id"].startswith("graph_")
    assert sorted(labels(graph)) == sorted(
        ["NormalizeNode", "RetrieveContextNode", "Analyze", "CountWordsNode",
         "DetectSentimentNode", "Summarize", "EscalateNode", "FinalizeNode"]
    )  # fmt: skip
    kinds = {n["label"]: n["kind"] for n in graph["nodes"]}
    assert (kinds["Analyze"], kinds["Summarize"], kinds["FinalizeNode"]) == (
        "concurrent_group",
        "subflow",
        "node",
    )
    (group,) = graph["concurrent_groups"]
    children = {n["id"]: n for n in graph["nodes"] if n["concurrent_group_id"] == group["id"]}
    assert set(group["node_ids"]) == set(children)
    assert {n["label"] for n in children.values()} == {"CountWordsNode", "DetectSentimentNode"}
    # The v2 app has a RetrieveContextNode between Normalize and Analyze; the legacy one not.
    assert edges_by_label(graph) == TOP_EDGES - {("NormalizeNode", "Analyze", None)} | {
        ("NormalizeNode", "RetrieveContextNode", None),
        ("RetrieveContextNode", "Analyze", None),
    }
    node = next(n for n in graph["nodes"] if n["label"] == "FinalizeNode")
    assert node["structural_id"].startswith("node_") and node["runtime_id"] == node["id"]
    assert node["type"] == "FinalizeNode" and node["concurrent_group_id"] is None


def test_v2_nested_subflow_graph() -> None:
    graph = graph_of(TICKET, "Support Ticket Triage")
    (subflow,) = graph["subflows"]
    summarize = next(n for n in graph["nodes"] if n["label"] == "Summarize")
    assert subflow["id"] == summarize["id"] and subflow["label"] == "Summarize"
    inner = subflow["graph"]
    assert labels(inner) == ["DraftSummaryNode", "PolishSummaryNode"]
    assert edges_by_label(inner) == {("DraftSummaryNode", "PolishSummaryNode", None)}
    ids = {n["label"]: n["id"] for n in inner["nodes"]}
    assert subflow["source_node_ids"] == [ids["DraftSummaryNode"]]
    assert subflow["sink_node_ids"] == [ids["PolishSummaryNode"]]
    # The nested graph is the same shape as the subflow span's own snapshot.
    own = graph_of(TICKET, "Summarize")
    assert subflow["graph_structural_id"] == inner["graph_structural_id"]
    assert subflow["graph_structural_id"] == own["graph_structural_id"]
    assert labels(own) == labels(inner) and own["subflows"] == []
    assert [n["structural_id"] for n in own["nodes"]] == [
        n["structural_id"] for n in inner["nodes"]
    ]
    assert len(all_nodes(graph)) == 10


def test_legacy_v1_converts_to_the_same_shape() -> None:
    graph = graph_of(LEGACY_TICKET, "Support Ticket Triage")
    assert graph["version"] == 1 and graph["problems"] == []
    assert graph["graph_structural_id"] is None
    assert edges_by_label(graph) == TOP_EDGES
    (group,) = graph["concurrent_groups"]
    assert group["label"] == "Analyze" and len(group["node_ids"]) == 2
    (subflow,) = graph["subflows"]
    # A single-node legacy subflow has no edge naming its node; it follows the subflow.
    assert labels(subflow["graph"]) == ["DraftSummaryNode"]
    # Its source/sink ids come from yet another factory call: unknown, so not reported.
    assert subflow["source_node_ids"] == [] and subflow["sink_node_ids"] == []
    assert all(n["structural_id"] is None for n in all_nodes(graph))
    reference = graph_of(TICKET, "Support Ticket Triage")
    assert set(graph) == set(reference)
    assert set(graph["nodes"][0]) == set(reference["nodes"][0])
    assert set(graph["edges"][0]) == set(reference["edges"][0])


def test_v1_with_subflow_edges() -> None:
    snapshot = {
        "v": 1,
        "nodes": [
            {"id": "a", "type": "A", "label": "A"},
            {"id": "sf", "type": "Sub", "label": "Sub", "isSubflow": True,
             "subflowSourceId": "x", "subflowSinkId": "y"},
            {"id": "x", "type": "X", "label": "X"},
            {"id": "y", "type": "Y", "label": "Y"},
            {"id": "b", "type": "B", "label": "B"},
        ],
        "edges": [
            {"id": "edge_a_sf_0", "source": "a", "target": "sf", "condition": None,
             "type": "explicit", "subflowId": None},
            {"id": "subflow_sf_edge_x_y", "source": "x", "target": "y", "condition": "Ok",
             "type": "subflow", "subflowId": "sf"},
            {"id": "edge_sf_b_1", "source": "sf", "target": "b", "condition": None,
             "type": "explicit", "subflowId": None},
        ],
    }  # fmt: skip
    graph = normalize_graph({V1: json.dumps(snapshot)})
    assert graph is not None
    assert labels(graph) == ["A", "Sub", "B"]
    assert [e["id"] for e in graph["edges"]] == ["edge_a_sf_0", "edge_sf_b_1"]
    (subflow,) = graph["subflows"]
    assert labels(subflow["graph"]) == ["X", "Y"]
    assert subflow["graph"]["edges"] == [
        {"id": "subflow_sf_edge_x_y", "structural_id": None, "tail": "x", "head": "y",
         "condition": "Ok"}
    ]  # fmt: skip
    assert (subflow["source_node_ids"], subflow["sink_node_ids"]) == (["x"], ["y"])


def _v2_node(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"nodeRuntimeId": node_id, "nodeStructuralId": f"node_{node_id}",
            "nodeType": node_id.upper(), "nodeLabel": node_id.upper(), **extra}  # fmt: skip


def _v2_edge(tail: str, head: str, subflow: str | None = None) -> dict[str, Any]:
    return {"edgeStructuralId": f"edge_{tail}_{head}", "tailNodeRuntimeId": tail,
            "headNodeRuntimeId": head, "edgeConditionLabel": None,
            "edgeScope": "subflow" if subflow else "explicit",
            "parentSubflowRuntimeId": subflow}  # fmt: skip


def test_v2_subflow_nested_in_a_subflow_with_a_concurrent_group() -> None:
    snapshot = {
        "v": 2,
        "graphStructuralId": "graph_top",
        "nodes": [
            _v2_node("a"),
            _v2_node("outer", isSubflow=True, subflowGraphStructuralId="graph_outer",
                     subflowSourceNodeRuntimeId="rc", subflowSinkNodeRuntimeIds=["inner"]),
            _v2_node("rc", isConcurrentSubgraph=True, childNodeRuntimeIds=["c1", "c2"]),
            _v2_node("c1"),
            _v2_node("c2"),
            _v2_node("inner", isSubflow=True, subflowGraphStructuralId="graph_inner",
                     subflowSourceNodeRuntimeId="solo", subflowSinkNodeRuntimeIds=["solo"]),
            _v2_node("solo"),
        ],
        "edges": [_v2_edge("a", "outer"), _v2_edge("rc", "inner", subflow="outer")],
    }  # fmt: skip
    graph = normalize_graph({V2: snapshot})  # an already-parsed value is accepted too
    assert graph is not None and graph["problems"] == []
    assert labels(graph) == ["A", "OUTER"]
    (outer,) = graph["subflows"]
    assert labels(outer["graph"]) == ["RC", "C1", "C2", "INNER"]
    assert outer["graph"]["concurrent_groups"] == [
        {"id": "rc", "label": "RC", "node_ids": ["c1", "c2"]}
    ]
    (inner,) = outer["graph"]["subflows"]
    assert labels(inner["graph"]) == ["SOLO"] and inner["graph"]["edges"] == []
    assert [sub for sub, _ in iter_levels(graph)] == [None, "outer", "inner"]
    mermaid = graph_to_mermaid(graph, {"c1", "solo"})["definition"]
    assert mermaid.count("subgraph ") == 3 and mermaid.count("end") == 3
    assert "class n_c1,n_solo executed" in mermaid


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"v":2,"nodes":[', "graph snapshot is not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"v":7,"nodes":[],"edges":[]}', "unknown graph snapshot version 7"),
        ('{"v":2,"nodes":[{"nodeLabel":"x"}],"edges":[]}', "without nodeRuntimeId"),
        ('{"v":2,"nodes":[],"edges":[{"tailNodeRuntimeId":"a"}]}', "without tail/head"),
        ('{"v":2,"nodes":[],"edges":[{"tailNodeRuntimeId":"a","headNodeRuntimeId":"b"}]}',
         "'a' end is not a node"),
        ('{"v":1,"nodes":["x", {"id":"a"}],"edges":[{"source":"a"}]}', "2 malformed legacy"),
    ],
)  # fmt: skip
def test_malformed_snapshots_report_problems(raw: str, problem: str) -> None:
    graph = normalize_graph({V2: raw})
    assert graph is not None
    assert any(problem in p for p in graph["problems"]), graph["problems"]
    graph_to_mermaid(graph)  # still renders


def test_no_snapshot_is_none_and_v2_wins_over_v1() -> None:
    assert normalize_graph({}) is None
    v1 = json.dumps({"v": 1, "nodes": [{"id": "old"}], "edges": []})
    v2 = json.dumps({"v": 2, "nodes": [_v2_node("new")], "edges": []})
    graph = normalize_graph({V1: v1, V2: v2})
    assert graph is not None and [n["id"] for n in graph["nodes"]] == ["new"]


def test_cyclic_subflow_membership_does_not_loop() -> None:
    snapshot = {
        "v": 2,
        "nodes": [
            _v2_node("s1", isSubflow=True, subflowSourceNodeRuntimeId="s2"),
            _v2_node("s2", isSubflow=True, subflowSourceNodeRuntimeId="s1"),
            _v2_node("g", isConcurrentSubgraph=True, childNodeRuntimeIds=["g"]),
        ],
        "edges": [],
    }
    graph = normalize_graph({V2: snapshot})
    assert graph is not None
    assert {n["id"] for n in all_nodes(graph)} == {"s1", "s2", "g"}
    graph_to_mermaid(graph)


def test_mermaid_of_the_real_workflow() -> None:
    graph = graph_of(TICKET, "Support Ticket Triage")
    mermaid = graph_to_mermaid(graph, {graph["nodes"][0]["id"]})
    text = mermaid["definition"]
    assert text.startswith("flowchart TD\n")
    assert '-->|"SentimentIsNegative"|' in text
    assert "subgraph n_" in text and '["Analyze"]' in text and '["Summarize"]' in text
    assert set(mermaid["node_ids"].values()) == {n["id"] for n in all_nodes(graph)}
    assert text.count(" executed") == 2  # the classDef and one class line


def test_mermaid_escapes_labels_and_makes_safe_unique_ids() -> None:
    snapshot = {
        "v": 2,
        "nodes": [
            _v2_node("a-b", nodeLabel='say "hi"'),
            _v2_node("a_b"),
            _v2_node("a.b"),
        ],
        "edges": [_v2_edge("a-b", "a_b") | {"edgeConditionLabel": 'is "x"'}],
    }
    mermaid = graph_to_mermaid(normalize_graph({V2: snapshot}) or {})
    assert mermaid["node_ids"] == {"n_a_b": "a-b", "n_a_b_2": "a_b", "n_a_b_3": "a.b"}
    assert 'n_a_b["say #quot;hi#quot;"]' in mermaid["definition"]
    assert '-->|"is #quot;x#quot;"| n_a_b_2' in mermaid["definition"]
