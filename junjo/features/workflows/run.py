"""One workflow run as the browser's debugger shows it (pure: spans of one trace in, JSON out).

``RunView`` wraps ``build_workflow_execution`` (the one reconstruction, which the REST route
and ``junjo traces show --state`` serve too) for the run's owner and every owner nested in it
(subflows, agents with an application Store), and offers:

* ``summary()``: the owner's graph and node↔span mapping, each node's status and run count,
  the spans of the run (errors, ``junjo.cancelled``, hook errors), every owner's store and
  integrity verdict, and ONE timeline of every store change of the run (all stores) in true
  order, without states (a 10,000-change run of 10 KB states would be 200 MB with them);
* ``change(index)``: one change of that timeline with its state before and after (from the
  server's replay) and its changes path by path;
* ``state_at_span(span_id)``: the state of the span's store when the span started.

Order across stores: each store's transitions keep the replay's order (sequence, or time for
legacy runs); stores are interleaved by event time, ties by owner order.
"""

from __future__ import annotations

import heapq
from typing import Any

from junjo.features.workflows.changes import transition_changes
from junjo.features.workflows.execution import build_workflow_execution
from junjo.features.workflows.trace_index import SpanNode, TraceIndex, as_int, as_str
from junjo.kernel.errors import InvalidInput, NotFound

HEAVY = ("state_before", "state_after", "patch")  # served one change at a time
HOOK_ERROR = "junjo.hook_error"
HOOK_CANCELLED = "junjo.hook_delivery_cancelled"


def _nested_owners(index: TraceIndex, owner: SpanNode) -> list[SpanNode]:
    """Owners under ``owner`` (subflows, agents with an application Store), in start order."""
    return [s for s in index.descendants(owner) if s.store_slots is not None]


def _event_key(entry: dict[str, Any]) -> int:
    return entry["time_ns"] if entry["time_ns"] is not None else 0


class RunView:
    """Built once per run (the server caches it); every answer is JSON-ready."""

    def __init__(self, trace_spans: list[dict[str, Any]], span_id: str) -> None:
        self.index = TraceIndex(trace_spans)
        self.execution = build_workflow_execution(trace_spans, span_id)
        owner = self.index.spans[span_id]
        self.owner = owner
        self.owners = [owner, *_nested_owners(self.index, owner)]
        self.executions = {span_id: self.execution}
        for nested in self.owners[1:]:
            self.executions[nested.span_id] = build_workflow_execution(trace_spans, nested.span_id)
        self.timeline = self._merge()

    # -- the merged timeline --------------------------------------------------------------

    def _merge(self) -> list[dict[str, Any]]:
        """Every owner's transitions, once each (a subflow's hook writes to the parent store,
        or an agent's application Store that is the workflow's own, appear in two owners'
        timelines), stores interleaved by time."""
        seen: set[tuple[Any, ...]] = set()
        lists = []
        for owner in self.owners:
            entries = []
            for transition in self.executions[owner.span_id]["transitions"]:
                key: tuple[Any, ...] = (
                    transition["store_id"],
                    transition["event_id"],
                    transition["sequence"],
                )
                if transition["event_id"] is None:
                    key = (*key, transition["span_id"], transition["position"])
                if key in seen:
                    continue
                seen.add(key)
                entries.append(
                    {**transition, "owner_span_id": owner.span_id, **self._writer(transition)}
                )
            lists.append(entries)
        merged = list(heapq.merge(*lists, key=_event_key))
        for number, entry in enumerate(merged):
            entry["index"] = number
        return merged

    def _writer(self, transition: dict[str, Any]) -> dict[str, Any]:
        """The run (workflow or subflow) whose span wrote, and whether it is outside this run:
        a shared Store (contract 3) holds the writes of sibling runs."""
        span = self.index.spans.get(transition["span_id"])
        chain = [span, *self.index.ancestors(span)] if span else []
        writer = next((a for a in chain if a.is_owner), None)
        inside = any(a is self.owner for a in chain)
        return {
            "writer_run_span_id": writer.span_id if writer else None,
            "writer_run_name": writer.name if writer else None,
            "outside_run": not inside,
        }

    # -- summary --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        execution = self.execution
        spans = self.spans()
        return {
            "span": execution["span"],
            "graph": execution["graph"],
            "node_spans": execution["node_spans"],
            "span_nodes": execution["span_nodes"],
            "nodes": self.summary_nodes(),
            "spans": spans,
            "stores": [self._store(owner) for owner in self.owners],
            "integrity": self.integrity(),
            "timeline": [self._light(entry) for entry in self.timeline],
        }

    def spans(self) -> list[dict[str, Any]]:
        return [self._span(s) for s in (self.owner, *self.index.descendants(self.owner))]

    def integrity(self) -> dict[str, Any]:
        """The run's verdict: complete only when every owner's store (and graph) is."""
        reasons = []
        for owner in self.owners:
            for found in self.executions[owner.span_id]["integrity"]["reasons"]:
                reasons.append({**found, "owner_span_id": owner.span_id, "owner_name": owner.name})
        return {"verdict": "partial" if reasons else "complete", "reasons": reasons}

    def _store(self, owner: SpanNode) -> dict[str, Any]:
        execution = self.executions[owner.span_id]
        store = {
            k: v
            for k, v in execution["store"].items()
            if k not in ("state_start", "state_end", "replayed_state_end")
        }
        return {
            **store,
            "owner_span_id": owner.span_id,
            "owner_name": owner.name,
            "owner_type": owner.span_type,
            "integrity": execution["integrity"],
        }

    @staticmethod
    def _light(entry: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in entry.items() if k not in HEAVY}
        out["changed_paths"] = _patch_paths(entry["patch"])
        return out

    def _span(self, span: SpanNode) -> dict[str, Any]:
        raw, attrs = span.raw, span.attrs
        events = span.events()
        return {
            "span_id": span.span_id,
            "parent_span_id": span.parent_span_id,
            "name": span.name,
            "span_type": span.span_type,
            "node_id": self.execution["span_nodes"].get(span.span_id),
            "start_time_ns": span.start_ns,
            "end_time_ns": span.end_ns,
            "duration_ns": span.end_ns - span.start_ns if span.end_ns is not None else None,
            "status_code": as_int(raw.get("status_code")) or 0,
            "status_message": as_str(raw.get("status_message")),
            "error_type": as_str(attrs.get("error.type")),
            "cancelled": attrs.get("junjo.cancelled") is True,
            "cancelled_reason": as_str(attrs.get("junjo.cancelled_reason")),
            "exceptions": [_exception(e) for e in events if e.get("name") == "exception"],
            "hook_errors": [
                _hook_error(e) for e in events if e.get("name") in (HOOK_ERROR, HOOK_CANCELLED)
            ],
        }

    def summary_nodes(self) -> dict[str, dict[str, Any]]:
        """Per graph node: not_run, executed, failed, cancelled or running; runs; time."""
        spans = self.spans()
        by_id = {s["span_id"]: s for s in spans}
        direct = {s["span_id"] for s in spans if s["span_type"] in _GRAPH_TYPES}
        out = {}
        for node_id, span_ids in self.execution["node_spans"].items():
            own = [by_id[i] for i in span_ids if i in direct and i in by_id]
            status = "not_run" if not span_ids else "executed"
            if any(s["end_time_ns"] is None for s in own):
                status = "running"
            elif any(s["cancelled"] for s in own):
                status = "cancelled"
            if any(s["status_code"] == 2 or s["exceptions"] for s in own):
                status = "failed"
            failure = next((e for s in own for e in s["exceptions"]), None)
            out[node_id] = {
                "status": status,
                "error": _error_text(failure) if status == "failed" and failure else None,
                "runs": len(own),
                "span_ids": [s["span_id"] for s in own],
                "duration_ns": sum(s["duration_ns"] or 0 for s in own) if own else None,
            }
        return out

    # -- states ---------------------------------------------------------------------------

    def change(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.timeline):
            raise NotFound(f"this run has {len(self.timeline)} state changes; no index {index}")
        entry = self.timeline[index]
        return {**self._light(entry), **{k: entry[k] for k in HEAVY}, "changes": _changes(entry)}

    def state_at_span(self, span_id: str) -> dict[str, Any]:
        """The state of the span's store when it started: after the last change of that store
        before the span's start (the start state when there is none)."""
        span = self.index.spans.get(span_id)
        if span is None or not (
            span is self.owner or any(a is self.owner for a in self.index.ancestors(span))
        ):
            raise NotFound(f"span {span_id} is not in this run")
        owner = next(
            (a for a in (span, *self.index.ancestors(span)) if a.span_id in self.executions), None
        )
        if owner is None:
            raise InvalidInput(f"span {span_id} belongs to no store of this run")
        store_id = self.executions[owner.span_id]["store"]["id"]
        before = [
            e
            for e in self.timeline
            if e["store_id"] == store_id
            and e["time_ns"] is not None
            and e["time_ns"] < span.start_ns
        ]
        last = before[-1] if before else None
        return {
            "span_id": span_id,
            "store_id": store_id,
            "owner_span_id": owner.span_id,
            "index": last["index"] if last else None,
            "state": last["state_after"]
            if last
            else self.executions[owner.span_id]["store"]["state_start"],
            "reliable": last["state_reliable"] if last else True,
        }

    def final_state(self, store_owner: str | None = None) -> Any:
        """The owner's final state: as the SDK reported it, else as replayed."""
        store = self.executions[store_owner or self.owner.span_id]["store"]
        return store["state_end"] if store["state_end"] is not None else store["replayed_state_end"]


_GRAPH_TYPES = ("node", "run_concurrent", "subflow")


def _patch_paths(patch: Any) -> list[str]:
    if not isinstance(patch, list):
        return []
    paths = []
    for op in patch:
        if isinstance(op, dict):
            for key in ("from", "path"):
                if isinstance(op.get(key), str) and op[key] not in paths:
                    paths.append(op[key])
    return paths


def _changes(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return transition_changes(entry)


def _error_text(exception: dict[str, Any]) -> str:
    kind = (exception["type"] or "Exception").rpartition(".")[2]
    return f"{kind}: {exception['message']}" if exception["message"] else kind


def _exception(event: dict[str, Any]) -> dict[str, Any]:
    attrs = event.get("attributes") or {}
    return {
        "type": as_str(attrs.get("exception.type")),
        "message": as_str(attrs.get("exception.message")),
        "stacktrace": as_str(attrs.get("exception.stacktrace")),
        "time_ns": as_int(event.get("timeUnixNano")),
    }


def _hook_error(event: dict[str, Any]) -> dict[str, Any]:
    attrs = event.get("attributes") or {}
    return {
        "name": event.get("name"),
        "hook_event": as_str(attrs.get("junjo.hook.event")),
        "callback": as_str(attrs.get("junjo.hook.callback")),
        "type": as_str(attrs.get("junjo.hook.error.type") or attrs.get("exception.type")),
        "message": as_str(attrs.get("junjo.hook.error.message") or attrs.get("exception.message")),
        "stacktrace": as_str(attrs.get("exception.stacktrace")),
        "cancelled_reason": as_str(attrs.get("junjo.hook.delivery.cancelled_reason")),
    }
