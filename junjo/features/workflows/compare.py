"""Two runs of one workflow side by side: which nodes ran in each, for how long, and how
their states differ (final, or after chosen changes). Pure: two ``RunView``-s in, JSON out.

Runtime ids differ from run to run, so nodes are matched by structural id (contract 2 and
3), or by type and label (legacy runs have no structural ids)."""

from __future__ import annotations

from typing import Any

from junjo.features.workflows.changes import _MISSING, value_at
from junjo.features.workflows.graph import all_nodes
from junjo.features.workflows.jsonpatch import diff_paths
from junjo.features.workflows.run import RunView

DIFF_LIMIT = 500


def _node_key(node: dict[str, Any]) -> str:
    return node["structural_id"] or f"{node['kind']}:{node['type']}:{node['label']}"


def _nodes(view: RunView) -> dict[str, dict[str, Any]]:
    graph = view.execution["graph"]
    statuses = view.summary_nodes()
    out: dict[str, dict[str, Any]] = {}
    for node in all_nodes(graph) if graph else []:
        status = statuses.get(node["id"], {})
        out.setdefault(
            _node_key(node),
            {
                "node_id": node["id"],
                "label": node["label"],
                "kind": node["kind"],
                "status": status.get("status", "not_run"),
                "runs": status.get("runs", 0),
                "duration_ns": status.get("duration_ns"),
            },
        )
    return out


def _run(view: RunView, index: int | None) -> tuple[dict[str, Any], Any]:
    span = view.execution["span"]
    if index is None:
        state, at = view.final_state(), None
    else:
        change = view.change(index)
        state, at = change["state_after"], {k: change[k] for k in ("index", "node_name", "action")}
    summary = {
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "name": span["name"],
        "service_name": span["service_name"],
        "start_time_ns": span["start_time_ns"],
        "duration_ns": span["duration_ns"],
        "status_code": span["status_code"],
        "cancelled": span["cancelled"],
        "change_count": len(view.timeline),
        "verdict": view.integrity()["verdict"],
        "state_at": at,
    }
    return summary, state


def state_diff(a: Any, b: Any) -> list[dict[str, Any]]:
    """``[{path, a?, b?}]`` where two states differ (a side is absent where the path is)."""
    out = []
    for path in diff_paths(a, b, DIFF_LIMIT):
        entry: dict[str, Any] = {"path": path}
        for side, doc in (("a", a), ("b", b)):
            value = value_at(doc, path)
            if value is not _MISSING:
                entry[side] = value
        out.append(entry)
    return out


def compare_runs(
    a: RunView, b: RunView, index_a: int | None = None, index_b: int | None = None
) -> dict[str, Any]:
    run_a, state_a = _run(a, index_a)
    run_b, state_b = _run(b, index_b)
    nodes_a, nodes_b = _nodes(a), _nodes(b)
    keys = list(nodes_a) + [k for k in nodes_b if k not in nodes_a]
    nodes = [
        {
            "key": key,
            "label": (nodes_a.get(key) or nodes_b[key])["label"],
            "kind": (nodes_a.get(key) or nodes_b[key])["kind"],
            "a": nodes_a.get(key),
            "b": nodes_b.get(key),
        }
        for key in keys
    ]
    return {
        "a": run_a,
        "b": run_b,
        "same_workflow": run_a["name"] == run_b["name"],
        "nodes": nodes,
        "state_a": state_a,
        "state_b": state_b,
        "state_diff": state_diff(state_a, state_b),
    }
