"""Fixture access for the workflow tests.

The ``sdk_*.json`` fixtures are real spans: ``make_fixtures.py`` captures them from the junjo
0.68.0 SDK over OTLP/gRPC (contract 2) and the ``sdk3_*.json`` ones from junjo 0.69.0
(contract 3, ``scripts/sdk_e2e/shared_store_app.py``); ``legacy_app.py`` captures the legacy
junjo 0.62.1 SDK. Each is one trace as a list of span dicts in the query layer's shape, in
arrival order.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().with_name("fixtures")
TICKET = "sdk_ticket_triage"
ORDER_FAILED = "sdk_order_failed"
LEGACY_TICKET = "sdk_legacy_ticket_triage"
SHARED_STORE = "sdk3_shared_store"  # two workflows running concurrently on one Store
CHECKPOINT_RESUME = "sdk3_checkpoint_resume"  # a run on a Store an earlier trace advanced
AGENT_DESK = "sdk3_agent_desk"  # an Agent whose Tool writes the workflow's Store
Span = dict[str, Any]


@cache
def _load(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def load(name: str) -> list[Span]:
    """A fresh copy each call, so a test may mutate it freely."""
    return json.loads(_load(name))


def span_named(spans: list[Span], name: str) -> Span:
    (span,) = [s for s in spans if s["name"] == name]
    return span


def set_state_event(spans: list[Span], action: str, store_id: str | None = None) -> Span:
    """The single set_state event with this action (and store, when two stores share one)."""
    (event,) = [
        e
        for s in spans
        for e in s["events"]
        if e["name"] == "set_state"
        and e["attributes"]["junjo.store.action"] == action
        and store_id in (None, e["attributes"]["junjo.store.id"])
    ]
    return event


def delete_set_state(spans: list[Span], action: str, store_id: str | None = None) -> Span:
    """Remove one set_state event in place; returns it."""
    event = set_state_event(spans, action, store_id)
    for span in spans:
        if event in span["events"]:
            span["events"].remove(event)
    return event


def store_id(span: Span) -> str:
    return span["attributes"]["junjo.workflow.store.id"]


def state_end(span: Span) -> Any:
    return json.loads(span["attributes"]["junjo.workflow.state.end"])


def codes(execution: dict[str, Any]) -> list[str]:
    return [r["code"] for r in execution["integrity"]["reasons"]]


def reason(execution: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [r for r in execution["integrity"]["reasons"] if r["code"] == code]
    return found


def deep(spans: list[Span]) -> list[Span]:
    return copy.deepcopy(spans)


def ran_twice(spans: list[Span], name: str) -> list[Span]:
    """``spans`` with a second, later run of node ``name`` (no state writes of its own)."""
    first = span_named(spans, name)
    again = {**first, "span_id": "f" * 16, "events": []}
    again["start_time_ns"] = first["end_time_ns"] + 1000
    again["end_time_ns"] = first["end_time_ns"] + 2000
    return [*spans, again]
