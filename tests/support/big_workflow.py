"""A big workflow run, for the debugger's browser test that bounds it and for
``scripts/bench_web.py``: ``nodes`` node spans in a contract-2 graph snapshot (a chain
with a conditional skip edge every 10 nodes), each writing ``changes // nodes`` state changes
to a state of about ``state_kb`` KB; and how long the page takes to show it and to step."""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.export import post_otlp
from tests.support.otlp_builders import (
    MS,
    junjo_node_span,
    junjo_workflow_span,
    make_request,
    make_resource_spans,
    new_span_id,
    new_trace_id,
    set_state_event,
)

SERVICE = "big-workflow"
NAME = "Big Workflow"
ITEM_CHARS = 100


def _graph(nodes: int) -> dict[str, Any]:
    node_list = [
        {
            "nodeRuntimeId": f"node-{i}",
            "nodeStructuralId": f"node_s{i:031d}",
            "nodeType": f"Step{i}",
            "nodeLabel": f"Step{i}",
        }
        for i in range(nodes)
    ]
    edges = [
        {"edgeStructuralId": f"e{i}", "tailNodeRuntimeId": f"node-{i}",
         "headNodeRuntimeId": f"node-{i + 1}", "edgeConditionLabel": None}
        for i in range(nodes - 1)
    ]  # fmt: skip
    edges += [
        {"edgeStructuralId": f"skip{i}", "tailNodeRuntimeId": f"node-{i}",
         "headNodeRuntimeId": f"node-{i + 2}", "edgeConditionLabel": "SkipNext"}
        for i in range(0, nodes - 2, 10)
    ]  # fmt: skip
    return {"v": 2, "graphStructuralId": "graph_" + "a" * 32, "nodes": node_list, "edges": edges}


def _value(n: int) -> str:
    return (f"value {n} " * ITEM_CHARS)[:ITEM_CHARS]


def big_workflow_request(
    nodes: int = 1000, changes: int = 10_000, state_kb: int = 10, start_ns: int | None = None
) -> tuple[bytes, str, str]:
    """(a serialized OTLP export request, its trace id, the workflow span id)."""
    trace_id, workflow_id = new_trace_id(), new_span_id()
    start = (time.time_ns() - 60_000 * MS) if start_ns is None else start_ns
    keys = [f"k{i}" for i in range(max(1, state_kb * 1024 // (ITEM_CHARS + 8)))]
    state: dict[str, Any] = {"items": {k: _value(i) for i, k in enumerate(keys)}, "step": 0}
    first = json.loads(json.dumps(state))
    per_node = max(1, changes // nodes)
    spans, sequence = [], 0
    for index in range(nodes):
        node_start = start + index * MS
        events = []
        for j in range(per_node):
            sequence += 1
            key = keys[sequence % len(keys)]
            value = _value(sequence)
            state["items"][key] = value
            state["step"] = sequence
            patch = [
                {"op": "replace", "path": f"/items/{key}", "value": value},
                {"op": "replace", "path": "/step", "value": sequence},
            ]
            at = node_start + (j + 1) * MS // (per_node + 1)
            events.append(set_state_event(store_id="big-store", sequence=sequence, action="advance",
                                          patch=patch, time_ns=at, event_id=f"e{sequence}",
                                          store_name="BigStore"))  # fmt: skip
        structural = {"junjo.executable_structural_id": f"node_s{index:031d}"}
        spans.append(junjo_node_span(trace_id=trace_id, parent_span_id=workflow_id,
                                     node_id=f"node-{index}", name=f"Step{index}",
                                     start_ns=node_start, end_ns=node_start + MS, events=events,
                                     extra_attributes=structural))  # fmt: skip
    spans.append(
        junjo_workflow_span(
            trace_id=trace_id,
            span_id=workflow_id,
            store_id="big-store",
            state_start=first,
            state_end=state,
            transitions=sequence,
            start_ns=start,
            end_ns=start + (nodes + 1) * MS,
            name=NAME,
            extra_attributes={
                "junjo.workflow.execution_graph_snapshot": json.dumps(_graph(nodes)),
                "junjo.workflow.node.count": nodes,
            },
        )
    )
    request = make_request([make_resource_spans(spans, service_name=SERVICE)])
    return request.SerializeToString(), trace_id.hex(), workflow_id.hex()


def send_big_workflow(base_url: str, ingest_key: str, **sizes: int) -> tuple[str, str]:
    """Send one big run; (trace id, workflow span id)."""
    body, trace_id, span_id = big_workflow_request(**sizes)
    post_otlp(base_url, ingest_key, [body])
    return trace_id, span_id


def run_url(base_url: str, trace_id: str, span_id: str) -> str:
    return f"{base_url}/workflows/{SERVICE}/{trace_id}/{span_id}"


def open_run_ms(page: Page, url: str) -> float:
    """From navigation until the graph and the timeline are drawn (ms)."""
    began = time.perf_counter()
    page.goto(url)
    expect(page.locator("svg.wf-graph g.wf-node").first).to_be_visible(timeout=120_000)
    expect(page.locator(".wf-timeline .wf-entry").first).to_be_visible(timeout=120_000)
    return (time.perf_counter() - began) * 1000


# Measured in the page (keydown to the frame that shows it), not with Playwright's expect,
# whose retries poll at 100 ms and more.
_TIMED_KEY = """async ([key, want]) => {
  const began = performance.now();
  document.body.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
  for (;;) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const head = document.querySelector(".wf-change-head");
    const table = document.querySelector("table.wf-changes");
    if (head && head.textContent.includes(want) && table) return performance.now() - began;
    if (performance.now() - began > 60000) throw new Error("no " + want);
  }
}"""


def step_ms(page: Page, steps: int = 20) -> float:
    """The mean time of one ArrowRight step until its change's Changes are shown (ms)."""
    page.locator("body").press("Home")
    expect(page.locator(".wf-change-head")).to_contain_text("transition 1 ")
    total = 0.0
    for n in range(2, steps + 2):
        total += page.evaluate(_TIMED_KEY, ["ArrowRight", f"transition {n} "])
    return total / steps


def jump_ms(page: Page, last: int) -> float:
    """End: the run's last change, with its states (ms)."""
    return float(page.evaluate(_TIMED_KEY, ["End", f"transition {last} "]))
