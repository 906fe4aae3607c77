"""A workflow/subflow graph snapshot → one normalized, nested structure (and Mermaid text).

Two inputs (telemetry contract §2.4, §2.9):

* v2 ``junjo.workflow.execution_graph_snapshot``: flat ``nodes``/``edges`` lists keyed by
  ``nodeRuntimeId``; the nodes of nested subflows are in the same lists, tied to their
  subflow by ``subflowSourceNodeRuntimeId``/``subflowSinkNodeRuntimeIds`` and by edges with
  ``parentSubflowRuntimeId``.
* legacy v1 ``junjo.workflow.graph_structure``: ``id``/``type``/``label`` nodes and
  ``source``/``target`` edges. It is first rewritten in v2 vocabulary, then shared code runs.

Output (``normalize_graph``)::

    {"version": 2 | 1, "graph_structural_id": str | None, "problems": [str],
     **level}
    level = {"nodes": [node], "edges": [edge], "concurrent_groups": [group],
             "subflows": [{"id", "label", "graph_structural_id", "source_node_ids",
                           "sink_node_ids", "graph": level}]}
    node  = {"id", "runtime_id", "structural_id", "type", "label",
             "kind": "node" | "concurrent_group" | "subflow", "concurrent_group_id"}
    edge  = {"id", "structural_id", "tail", "head", "condition"}
    group = {"id", "label", "node_ids"}

Node ids are unique across all levels (the v2 runtime id, or the v1 id). A level's ``nodes``
include its concurrent-group children (each names its ``concurrent_group_id``); a subflow is a
node of its parent level and its inner graph is the ``subflows`` entry with the same id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from junjo.features.workflows.trace_index import (
    GRAPH_V1,
    GRAPH_V2,
    JsonAttributeError,
    as_str,
    parse_json,
)


@dataclass
class _Snapshot:
    """A snapshot in v2 vocabulary, validated: every node has a string id."""

    version: int
    graph_structural_id: str | None
    nodes: dict[str, dict[str, Any]]  # id → raw v2 node, in snapshot order
    edges: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _str_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _read_v2(data: dict[str, Any], problems: list[str]) -> _Snapshot:
    nodes: dict[str, dict[str, Any]] = {}
    for raw in _list(data, "nodes"):
        node_id = as_str(raw.get("nodeRuntimeId")) if isinstance(raw, dict) else None
        if node_id is None:
            problems.append("a node without nodeRuntimeId was skipped")
        elif node_id not in nodes:
            nodes[node_id] = raw
    edges = []
    for raw in _list(data, "edges"):
        ok = isinstance(raw, dict) and as_str(raw.get("tailNodeRuntimeId")) is not None
        if ok and as_str(raw.get("headNodeRuntimeId")) is not None:
            edges.append(raw)
        else:
            problems.append("an edge without tail/head node ids was skipped")
    graph_id = as_str(data.get("graphStructuralId"))
    return _Snapshot(2, graph_id, nodes, edges, problems)


def _v1_node_as_v2(raw: dict[str, Any]) -> dict[str, Any]:
    node = {
        "nodeRuntimeId": raw.get("id"),
        "nodeStructuralId": None,
        "nodeType": raw.get("type"),
        "nodeLabel": raw.get("label"),
    }
    if raw.get("isSubgraph"):
        node["isConcurrentSubgraph"] = True
        node["childNodeRuntimeIds"] = _str_list(raw.get("children"))
    if raw.get("isSubflow"):
        node["isSubflow"] = True
        node["subflowSourceNodeRuntimeId"] = raw.get("subflowSourceId")
        sink = as_str(raw.get("subflowSinkId"))
        node["subflowSinkNodeRuntimeIds"] = [sink] if sink else []
    return node


def _v1_edge_as_v2(raw: dict[str, Any]) -> dict[str, Any]:
    subflow = as_str(raw.get("subflowId")) if raw.get("type") == "subflow" else None
    return {
        "edgeStructuralId": None,
        "edgeId": raw.get("id"),
        "tailNodeRuntimeId": raw.get("source"),
        "headNodeRuntimeId": raw.get("target"),
        "edgeConditionLabel": raw.get("condition"),
        "edgeScope": "subflow" if subflow else "explicit",
        "parentSubflowRuntimeId": subflow,
    }


def _read_v1(data: dict[str, Any], problems: list[str]) -> _Snapshot:
    nodes, edges = _list(data, "nodes"), _list(data, "edges")
    as_v2 = {
        "nodes": [_v1_node_as_v2(n) for n in nodes if isinstance(n, dict)],
        "edges": [
            _v1_edge_as_v2(e)
            for e in edges
            if isinstance(e, dict) and as_str(e.get("source")) and as_str(e.get("target"))
        ],
    }
    skipped = len(nodes) - len(as_v2["nodes"]) + len(edges) - len(as_v2["edges"])
    if skipped:
        problems.append(f"{skipped} malformed legacy node/edge entries were skipped")
    snapshot = _read_v2(as_v2, problems)
    snapshot.version = 1
    return snapshot


# -- membership: which level (top, or which subflow) each node belongs to -----------------


def _is_subflow(node: dict[str, Any]) -> bool:
    return node.get("isSubflow") is True


def _is_group(node: dict[str, Any]) -> bool:
    return node.get("isConcurrentSubgraph") is True


def _with_group_children(ids: list[str], snap: _Snapshot) -> list[str]:
    """``ids`` plus the (nested) children of any concurrent group among them, in order."""
    out: list[str] = []
    pending = list(ids)
    while pending:
        node_id = pending.pop(0)
        if node_id in out or node_id not in snap.nodes:
            continue
        out.append(node_id)
        node = snap.nodes[node_id]
        if _is_group(node):
            pending[:0] = _str_list(node.get("childNodeRuntimeIds"))
    return out


def _direct_members(subflow_id: str, snap: _Snapshot) -> list[str]:
    node = snap.nodes[subflow_id]
    ids = [as_str(node.get("subflowSourceNodeRuntimeId")) or ""]
    ids += _str_list(node.get("subflowSinkNodeRuntimeIds"))
    for edge in snap.edges:
        if edge.get("parentSubflowRuntimeId") == subflow_id:
            ids += [edge["tailNodeRuntimeId"], edge["headNodeRuntimeId"]]
    return [i for i in _with_group_children(ids, snap) if i != subflow_id]


def _levels(snap: _Snapshot) -> dict[str, str | None]:
    """node id → id of the subflow whose graph holds it (None: the top level)."""
    level: dict[str, str | None] = dict.fromkeys(snap.nodes)
    subflows = [i for i, n in snap.nodes.items() if _is_subflow(n)]
    for subflow_id in subflows:
        for member in _direct_members(subflow_id, snap):
            if level[member] is None:  # first claim wins: deterministic on odd input
                level[member] = subflow_id
    if snap.version == 1:
        _assign_legacy_orphans(snap, level)
    _detach_unreachable(level)
    return level


def _assign_legacy_orphans(snap: _Snapshot, level: dict[str, str | None]) -> None:
    """Legacy snapshots list a subflow's inner nodes right after the subflow node (depth-first
    collection) but a single-node subflow has no edge naming them, and its source/sink ids come
    from yet another factory call. So a node in no edge and in no group follows the
    nearest subflow listed before it."""
    in_edges = {e["tailNodeRuntimeId"] for e in snap.edges}
    in_edges |= {e["headNodeRuntimeId"] for e in snap.edges}
    grouped = {c for n in snap.nodes.values() for c in _str_list(n.get("childNodeRuntimeIds"))}
    current: str | None = None
    for node_id, node in snap.nodes.items():
        if node_id in in_edges or node_id in grouped:
            current = node_id if _is_subflow(node) else level[node_id]
            continue
        if level[node_id] is None and current is not None:
            level[node_id] = current
        if _is_subflow(node):
            current = node_id


def _detach_unreachable(level: dict[str, str | None]) -> None:
    """A node whose chain of enclosing subflows loops never reaches the top: move it there."""
    for node_id in level:
        seen = {node_id}
        parent = level[node_id]
        while parent is not None:
            if parent in seen or parent not in level:
                level[node_id] = None
                break
            seen.add(parent)
            parent = level[parent]


# -- building the nested output ------------------------------------------------------------


def _kind(node: dict[str, Any]) -> str:
    if _is_subflow(node):
        return "subflow"
    return "concurrent_group" if _is_group(node) else "node"


def _out_node(node_id: str, node: dict[str, Any], group_of: dict[str, str]) -> dict[str, Any]:
    node_type = as_str(node.get("nodeType"))
    return {
        "id": node_id,
        "runtime_id": node_id,
        "structural_id": as_str(node.get("nodeStructuralId")),
        "type": node_type,
        "label": as_str(node.get("nodeLabel")) or node_type or node_id,
        "kind": _kind(node),
        "concurrent_group_id": group_of.get(node_id),
    }


def _out_edge(edge: dict[str, Any], index: int) -> dict[str, Any]:
    tail, head = edge["tailNodeRuntimeId"], edge["headNodeRuntimeId"]
    structural = as_str(edge.get("edgeStructuralId"))
    return {
        "id": structural or as_str(edge.get("edgeId")) or f"edge_{tail}_{head}_{index}",
        "structural_id": structural,
        "tail": tail,
        "head": head,
        "condition": as_str(edge.get("edgeConditionLabel")),
    }


def _build_level(
    owner: str | None, snap: _Snapshot, level: dict[str, str | None], group_of: dict[str, str]
) -> dict[str, Any]:
    ids = [i for i, lv in level.items() if lv == owner]
    nodes = [_out_node(i, snap.nodes[i], group_of) for i in ids]
    edges = [
        _out_edge(edge, index)
        for index, edge in enumerate(snap.edges)
        if _edge_level(edge, level) == owner
    ]
    groups = [
        {
            "id": i,
            "label": as_str(snap.nodes[i].get("nodeLabel")) or i,
            "node_ids": [
                c for c in _str_list(snap.nodes[i].get("childNodeRuntimeIds")) if c in ids
            ],
        }
        for i in ids
        if _is_group(snap.nodes[i])
    ]
    subflows = [_subflow(i, snap, level, group_of) for i in ids if _is_subflow(snap.nodes[i])]
    return {"nodes": nodes, "edges": edges, "concurrent_groups": groups, "subflows": subflows}


def _edge_level(edge: dict[str, Any], level: dict[str, str | None]) -> str | None:
    parent = as_str(edge.get("parentSubflowRuntimeId"))
    if parent is not None and parent in level:
        return parent
    # An edge without a (known) subflow scope lives where its tail lives.
    return level.get(edge["tailNodeRuntimeId"])


def _subflow(
    node_id: str, snap: _Snapshot, level: dict[str, str | None], group_of: dict[str, str]
) -> dict[str, Any]:
    node = snap.nodes[node_id]
    inner = _build_level(node_id, snap, level, group_of)
    members = {n["id"] for n in inner["nodes"]}
    source = as_str(node.get("subflowSourceNodeRuntimeId"))
    sinks = _str_list(node.get("subflowSinkNodeRuntimeIds"))
    return {
        "id": node_id,
        "label": as_str(node.get("nodeLabel")) or node_id,
        "graph_structural_id": as_str(node.get("subflowGraphStructuralId")),
        # Legacy snapshots name source/sink nodes from a throwaway graph: keep known ids only.
        "source_node_ids": [source] if source in members else [],
        "sink_node_ids": [s for s in sinks if s in members],
        "graph": {"graph_structural_id": as_str(node.get("subflowGraphStructuralId")), **inner},
    }


def _check_edges(snap: _Snapshot) -> None:
    for edge in snap.edges:
        for end in (edge["tailNodeRuntimeId"], edge["headNodeRuntimeId"]):
            if end not in snap.nodes:
                snap.problems.append(f"edge {end!r} end is not a node of the snapshot")


def normalize_graph(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """The normalized graph of an owner span's attributes, or None when it carries no
    snapshot. Malformed content never raises: it is reported in ``problems``."""
    raw_v2 = attributes.get(GRAPH_V2)
    raw = raw_v2 if raw_v2 is not None else attributes.get(GRAPH_V1)
    if raw is None:
        return None
    problems: list[str] = []
    try:
        data = parse_json(raw)
    except JsonAttributeError as exc:
        data, problems = {}, [f"graph snapshot is {exc}"]
    if not isinstance(data, dict):
        data, problems = {}, [*problems, "graph snapshot is not a JSON object"]
    declared = data.get("v")
    if data and declared not in (1, 2):
        problems.append(f"unknown graph snapshot version {declared!r}; read as v2")
    legacy = declared == 1 or (raw_v2 is None and declared is None)
    snap = _read_v1(data, problems) if legacy else _read_v2(data, problems)
    _check_edges(snap)
    level = _levels(snap)
    group_of = {
        child: group_id
        for group_id, node in snap.nodes.items()
        if _is_group(node)
        for child in _str_list(node.get("childNodeRuntimeIds"))
        if child in snap.nodes
    }
    top = _build_level(None, snap, level, group_of)
    return {
        "version": snap.version,
        "graph_structural_id": snap.graph_structural_id,
        "problems": snap.problems,
        **top,
    }


# -- walking and rendering -------------------------------------------------------------------


def iter_levels(graph: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(subflow id or None for the top, level) for every level, depth-first."""
    out: list[tuple[str | None, dict[str, Any]]] = [(None, graph)]
    index = 0
    while index < len(out):
        _, level = out[index]
        index += 1
        out.extend((sub["id"], sub["graph"]) for sub in level.get("subflows", []))
    return out


def all_nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for _, level in iter_levels(graph) for node in level["nodes"]]


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _quote(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


class _Mermaid:
    def __init__(self, executed: set[str]) -> None:
        self.executed = executed
        self.ids: dict[str, str] = {}  # node id → mermaid id
        self.rendered: set[str] = set()  # guards against group/subflow cycles in bad input
        self.lines: list[str] = ["flowchart TD"]

    def mid(self, node_id: str) -> str:
        if node_id not in self.ids:
            base = "n_" + _UNSAFE.sub("_", node_id)
            candidate, n = base, 1
            while candidate in self.ids.values():
                n += 1
                candidate = f"{base}_{n}"
            self.ids[node_id] = candidate
        return self.ids[node_id]

    def level(self, level: dict[str, Any], indent: str) -> None:
        subflows = {s["id"]: s for s in level["subflows"]}
        groups = {g["id"]: g for g in level["concurrent_groups"]}
        by_id = {n["id"]: n for n in level["nodes"]}
        for node in level["nodes"]:
            if node["concurrent_group_id"] not in by_id:  # grouped nodes render in their group
                self.node(node, by_id, groups, subflows, indent)
        for edge in level["edges"]:
            label = f"|{_quote(edge['condition'])}|" if edge["condition"] else ""
            self.lines.append(
                f"{indent}{self.mid(edge['tail'])} -->{label} {self.mid(edge['head'])}"
            )

    def node(
        self,
        node: dict[str, Any],
        by_id: dict[str, dict[str, Any]],
        groups: dict[str, dict[str, Any]],
        subflows: dict[str, dict[str, Any]],
        indent: str,
    ) -> None:
        if node["id"] in self.rendered:
            return
        self.rendered.add(node["id"])
        mid, label = self.mid(node["id"]), _quote(node["label"])
        if node["id"] in subflows:
            self.lines.append(f"{indent}subgraph {mid}[{label}]")
            self.level(subflows[node["id"]]["graph"], indent + "  ")
            self.lines.append(f"{indent}end")
        elif node["id"] in groups:
            self.lines.append(f"{indent}subgraph {mid}[{label}]")
            self.lines.append(f"{indent}  direction LR")
            for child in groups[node["id"]]["node_ids"]:
                if child in by_id:
                    self.node(by_id[child], by_id, groups, subflows, indent + "  ")
            self.lines.append(f"{indent}end")
        else:
            self.lines.append(f"{indent}{mid}[{label}]")

    def done(self) -> dict[str, Any]:
        executed = sorted(self.ids[i] for i in self.executed if i in self.ids)
        if executed:
            self.lines.append("  classDef executed stroke-width:3px")
            self.lines.append(f"  class {','.join(executed)} executed")
        return {
            "definition": "\n".join(self.lines),
            "node_ids": {m: i for i, m in self.ids.items()},
        }


def graph_to_mermaid(graph: dict[str, Any], executed: set[str] | None = None) -> dict[str, Any]:
    """``{"definition": mermaid flowchart text, "node_ids": {mermaid id: graph node id}}``.

    Concurrent groups and subflows become ``subgraph`` blocks; nodes in ``executed`` get the
    ``executed`` class so a renderer can highlight the path that ran."""
    mermaid = _Mermaid(executed or set())
    mermaid.level(graph, "  ")
    return mermaid.done()
