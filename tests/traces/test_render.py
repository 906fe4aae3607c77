"""What `junjo traces` prints: tables, one line per trace, the span tree with its waterfall,
and a workflow's store transitions as diffs. Fed with what a source answers (the REST API's
shapes), printed to a plain 120-column terminal."""

from __future__ import annotations

import copy
import io
import re
import time
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console

from junjo.features.traces import render
from junjo.features.traces.client import TraceSource
from tests.support.otlp_builders import T0
from tests.traces.conftest import Stored


def printed(renderable: Any) -> list[str]:
    console = Console(width=120, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def summaries(files: TraceSource) -> dict[str, dict]:
    return {t["root_name"]: t for t in files.search({"limit": "50"})["traces"]}


def workflow_run(files: TraceSource, stored: Stored) -> dict:
    trace_id = stored.ids["workflow"]
    owner = next(s for s in files.trace(trace_id)["spans"] if s["junjo_span_type"] == "workflow")
    return files.workflow(trace_id, owner["span_id"])


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (None, "-"),
        (0, "0µs"),
        (250_000, "250µs"),
        (2_500_000, "2.5ms"),
        (999_000_000, "999.0ms"),
        (3_200_000_000, "3.20s"),
    ],
)
def test_durations(ns: int | None, text: str):
    assert render.duration(ns) == text


def test_times_are_local_with_the_date_unless_today():
    assert render.local_time(None) == render.local_time(0) == "-"
    then = datetime.fromtimestamp(T0 / 1e9).astimezone()
    assert render.local_time(T0) == then.strftime("%Y-%m-%d %H:%M")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", render.local_time(time.time_ns()))


def test_the_traces_table(files: TraceSource, stored: Stored):
    lines = printed(render.traces_table(files.search({})["traces"]))
    header = next(line for line in lines if "started" in line)
    assert header.split() == [
        "┃", "started", "┃", "trace", "┃", "service", "┃", "root", "┃", "took", "┃",
        "spans", "┃", "LLM", "┃", "tokens", "┃", "ok", "┃",
    ]  # fmt: skip
    rows = [line for line in lines if re.search(r"│ [0-9a-f]{32} │", line)]  # a row's 1st line
    assert [row.split("│")[4].strip() for row in rows] == [
        "tie-b" if stored.ids["tie-b"] > stored.ids["tie-a"] else "tie-a",
        "tie-a" if stored.ids["tie-b"] > stored.ids["tie-a"] else "tie-b",
        "Ticket flow",
        "late-child",
        "refund",
        "answer",
        "checkout",
    ]
    checkout = rows[-1]
    assert stored.ids["checkout"] in checkout  # whole: it is what `traces show` takes
    assert [cell.strip() for cell in checkout.split("│")[3:10]] == [
        "shop", "checkout", "10.0ms", "2", "", "", "✗ 1",
    ]  # fmt: skip
    assert [cell.strip() for cell in rows[-2].split("│")[5:10]] == [
        "5.0ms", "2", "1", "42", "✓",
    ]  # fmt: skip
    orphan = lines[lines.index(rows[3]) : lines.index(rows[4])]
    assert " ".join(line.split("│")[4].strip() for line in orphan) == "late-child (root missing)"


@pytest.mark.parametrize("width", [80, 60])
def test_a_narrow_terminal_still_shows_whole_trace_ids(
    files: TraceSource, stored: Stored, width: int
):
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(render.traces_table(files.search({})["traces"]))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert all(trace_id in text for trace_id in stored.ids.values())
    assert "…" not in text and "root" in text and "ok" in text


def test_one_line_per_trace_for_tail(files: TraceSource, stored: Stored):
    found = summaries(files)
    (chat,) = printed(render.trace_line(found["answer"]))
    assert chat.endswith(f"  {stored.ids['chat']}  assistant  answer  5.0ms  2 spans  1 LLM  ✓")
    (checkout,) = printed(render.trace_line(found["checkout"]))
    assert checkout.endswith("  shop  checkout  10.0ms  2 spans  ✗ 1")
    (orphan,) = printed(render.trace_line(found["late-child"]))
    assert orphan.endswith("  shop  late-child (root missing)  1.0ms  1 spans  ✓")


def test_the_services_table(files: TraceSource):
    rows = [line for line in printed(render.services_table(files.services())) if "│" in line]
    cells = {row.split("│")[1].strip(): [c.strip() for c in row.split("│")[2:7]] for row in rows}
    assert cells["shop"] == ["3", "4", "33.3%", "0", ""]
    assert cells["assistant"] == ["1", "2", "0.0%", "1", "42"]


def test_the_span_tree_with_its_waterfall_and_errors(files: TraceSource, stored: Stored):
    lines = printed(render.span_tree(files.trace(stored.ids["checkout"])))
    assert lines[0] == f"trace {stored.ids['checkout']}  shop  10.0ms  2 spans  ✗ 1"
    assert lines[1].endswith("└── " + "█" * 24 + " checkout  10.0ms")  # the whole trace
    # charge-card ran from 1 ms to 4 ms of 10: its bar starts 2/24 in and is 7/24 long.
    assert lines[2].endswith("└── ··" + "█" * 7 + "·" * 15 + " charge-card  3.0ms")
    assert lines[2].index("└") > lines[1].index("└")  # a child of checkout
    assert lines[3].strip().endswith("✗ PaymentError: card declined")


def test_the_span_tree_names_llm_calls_junjo_types_and_lost_parents(
    files: TraceSource, stored: Stored
):
    chat = "\n".join(printed(render.span_tree(files.trace(stored.ids["chat"]))))
    assert "ChatCompletion  " in chat and "gpt-test 42 tokens" in chat
    assert "input: Summarize the ticket" in chat and "→ output: A short summary" in chat
    workflow = printed(render.span_tree(files.trace(stored.ids["workflow"])))
    assert "Ticket flow [workflow]  4.0ms" in workflow[1]
    assert [line.split("█")[-1].split("·")[-1].strip() for line in workflow[2:]] == [
        "Node0 [node]  1.0ms",
        "Node1 [node]  1.0ms",
    ]
    orphan = printed(render.span_tree(files.trace(stored.ids["orphan"])))
    assert orphan[1].startswith("└── ") and "late-child" in orphan[1]  # shown at the top
    assert orphan[0].endswith("1 spans  ✓  (root missing)")
    assert "root missing" not in workflow[0]


def test_an_error_without_an_exception_shows_the_status_message(files: TraceSource, stored: Stored):
    detail = copy.deepcopy(files.trace(stored.ids["checkout"]))
    detail["spans"][1]["events_json"] = []
    assert printed(render.span_tree(detail))[3].strip() == "✗ card declined"
    detail["spans"][1]["status_message"] = ""
    assert len(printed(render.span_tree(detail))) == 3  # nothing to say


def test_a_workflow_runs_transitions_as_diffs(files: TraceSource, stored: Stored):
    execution = workflow_run(files, stored)
    assert printed(render.transitions(execution)) == [
        f"workflow Ticket flow ({execution['span']['span_id']})",
        "  #1 Node0  open",
        '    ~ /status: "new" → "open"',
        '    + /notes = ["checked"]',
        "  #2 Node1  close",
        "    - /draft",
        '    ~ /status: "open" → "done"',
        "  integrity: complete",
    ]


def test_legacy_transitions_unknown_states_and_a_partial_verdict(
    files: TraceSource, stored: Stored
):
    execution = copy.deepcopy(workflow_run(files, stored))
    first, second = execution["transitions"]
    first.update(sequence=None, node_name=None, action=None, state_before=None)  # legacy
    first["patch"] = [
        {"op": "replace", "path": "/status", "value": "x" * 100},
        {"op": "move", "from": "/a", "path": "/b"},
    ]
    second["patch"] = [{"op": "replace", "path": "/missing", "value": 1}]
    execution["integrity"] = {
        "verdict": "partial",
        "reasons": [{"code": "sequence_gap", "message": "transition 3 is missing"}],
    }
    assert printed(render.transitions(execution))[1:] == [
        "  #1 ?",  # no sequence: its position
        '    ~ /status: null → "' + "x" * 78 + "…",  # 80 characters at most
        "    move /b /a",
        "  #2 Node1  close",
        "    ~ /missing: null → 1",
        "  integrity: partial",
        "    - sequence_gap: transition 3 is missing",
    ]


def test_a_subflow_is_labelled_so_and_a_list_change_is_one_line(files: TraceSource, stored: Stored):
    execution = copy.deepcopy(workflow_run(files, stored))
    execution["span"]["span_type"] = "subflow"
    first = execution["transitions"][0]
    # As the SDK's JSON patch writes a list filled in one step: one op per item.
    first["state_before"] = {"status": "new", "draft": "old", "notes": []}
    first["state_after"] = {"status": "open", "draft": "old", "notes": ["a", "b", "c"]}
    first["patch"] = [
        {"op": "add", "path": "/notes/0", "value": "a"},
        {"op": "add", "path": "/notes/1", "value": "b"},
        {"op": "add", "path": "/notes/-", "value": "c"},
        {"op": "replace", "path": "/status", "value": "open"},
    ]
    lines = printed(render.transitions(execution))
    assert lines[0] == f"subflow Ticket flow ({execution['span']['span_id']})"
    assert lines[1:4] == [
        "  #1 Node0  open",
        '    ~ /notes: [] → ["a", "b", "c"]',
        '    ~ /status: "new" → "open"',
    ]
    first["state_before"] = {"status": "new"}  # the list is new
    assert printed(render.transitions(execution))[2] == '    + /notes = ["a", "b", "c"]'
