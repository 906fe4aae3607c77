#!/usr/bin/env python3
"""Workflow replay benchmark: set_state events read from the spans' ``events_json`` (what
the server does) against the same events read from a ``state_changes`` table (what junjo
did write, one row per set_state event, until the write was dropped for this measurement).

    .venv/bin/python scripts/bench_replay.py [--transitions 1000,5000] [--state-kb 10]
                                             [--background-spans 200000] [--runs 7]

Builds a span store in a temp dir through the real converter and writer: ``--background-
spans`` spans of ordinary 3-node workflow traces spread over a week, and for each size in
``--transitions`` one workflow run of that many set_state events (10 per node span, each
patch replacing one field of a ``--state-kb`` state). Beside it, a ``state_changes`` table
in the old layout (``bench_state_changes``), filled from the stored events the way the old
converter did.

Then, alternating, ``--runs`` times each (medians, and B's ratio to A in the same run):

  A events_json     queries.workflow_execution: the trace's spans with their events, replay
  B state_changes   the spans without events_json, plus that trace's rows of state_changes
                    (bounded by the trace's time window, as the spans are), made back into
                    set_state events; the same replay

"read" is the time until the replay starts (the queries and JSON parsing), "total" adds the
replay itself (the same code in both).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from junjo.features.spans import RECORD_COLUMNS  # noqa: E402
from junjo.features.spans.bulk import append_rows  # noqa: E402
from junjo.features.spans.convert import convert_request  # noqa: E402
from junjo.features.spans.schema import SPAN_COLUMNS  # noqa: E402
from junjo.features.spans.store import SERVER_MEMORY_LIMIT, SpanStore  # noqa: E402
from junjo.features.traces import queries  # noqa: E402
from junjo.features.workflows.execution import build_workflow_execution  # noqa: E402
from junjo.kernel.principal import Principal  # noqa: E402
from tests.support import otlp_builders as b  # noqa: E402

OPERATOR = Principal.operator()
WEEK_NS = 7 * 24 * 3600 * 1_000_000_000
EVENTS_PER_NODE = 10  # set_state events on one node span (SDKs keep 128 events a span)
FIELDS = 100  # the state's fields; each patch replaces one

# The table as junjo wrote it (schema migration 1), and the old converter's row for a
# set_state event: its attributes lifted into columns, the rest kept as JSON.
STATE_CHANGES_DDL = """
CREATE TABLE bench_state_changes (
    trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, event_index INTEGER NOT NULL,
    store_id VARCHAR, store_name VARCHAR, action VARCHAR, transition_sequence BIGINT,
    revision_before BIGINT, revision_after BIGINT, event_time_ns BIGINT NOT NULL,
    event_id VARCHAR, patch VARCHAR, attributes_json VARCHAR NOT NULL
)
"""
LIFTED = {  # column -> the event attribute it holds
    "store_id": "junjo.store.id",
    "store_name": "junjo.store.name",
    "action": "junjo.store.action",
    "transition_sequence": "junjo.store.transition.sequence",
    "revision_before": "junjo.store.revision.before",
    "revision_after": "junjo.store.revision.after",
    "event_id": "id",
    "patch": "junjo.state_json_patch",
}


def state_rows(span_rows: list[tuple]) -> list[tuple]:
    trace_i, span_i = SPAN_COLUMNS.index("trace_id"), SPAN_COLUMNS.index("span_id")
    events_i = SPAN_COLUMNS.index("events_json")
    out = []
    for row in span_rows:
        for index, event in enumerate(json.loads(row[events_i])):
            if event["name"] != "set_state":
                continue
            attrs = event["attributes"]
            lifted = [attrs.get(key) for key in LIFTED.values()]
            rest = {k: v for k, v in attrs.items() if k not in LIFTED.values()}
            out.append(
                (row[trace_i], row[span_i], index, *lifted[:6], int(event["timeUnixNano"]),
                 *lifted[6:], json.dumps(rest))
            )  # fmt: skip
    return out


# -- data ---------------------------------------------------------------------------------


def big_run(transitions: int, state_kb: int, start_ns: int) -> list:
    """One workflow run: ``transitions`` set_state events over node spans, a state of
    about ``state_kb`` KB whose fields the patches replace in turn."""
    value_size = state_kb * 1024 // FIELDS
    state = {f"field{i}": "s" * value_size for i in range(FIELDS)}
    start_state = dict(state)
    trace_id, workflow_id = b.new_trace_id(), b.new_span_id()
    spans, sequence = [], 0
    for node in range(-(-transitions // EVENTS_PER_NODE)):
        node_start = start_ns + (node + 1) * b.MS
        events = []
        for _ in range(min(EVENTS_PER_NODE, transitions - sequence)):
            sequence += 1
            field, value = f"field{sequence % FIELDS}", f"{sequence:08d}".ljust(value_size, "v")
            state[field] = value
            events.append(
                b.set_state_event(
                    store_id="store-big",
                    sequence=sequence,
                    action=f"set_{field}",
                    patch=[{"op": "replace", "path": f"/{field}", "value": value}],
                    time_ns=node_start + len(events) * 1000,
                    event_id=f"evt-{sequence}",
                )
            )
        spans.append(
            b.junjo_node_span(
                trace_id=trace_id,
                parent_span_id=workflow_id,
                node_id=f"node-{node}",
                name=f"Node{node}",
                start_ns=node_start,
                end_ns=node_start + b.MS,
                events=events,
            )
        )
    spans.append(
        b.junjo_workflow_span(
            trace_id=trace_id,
            span_id=workflow_id,
            store_id="store-big",
            state_start=start_state,
            state_end=state,
            transitions=transitions,
            start_ns=start_ns,
            end_ns=start_ns + (len(spans) + 2) * b.MS,
        )
    )
    return spans


def build(path: Path, background: int, sizes: list[int], state_kb: int) -> dict[int, tuple]:
    """Write the store and its state_changes table; the (trace, span) id of each big run."""
    store = SpanStore.open(path)
    cursor = store.cursor()
    cursor.execute(STATE_CHANGES_DDL)
    now, seq, written, trace = time.time_ns(), 0, 0, 0
    targets: dict[int, tuple] = {}

    def write(spans: list) -> None:
        nonlocal seq
        seq += 1
        payload = b.request_payload(spans, service_name="bench-replay")
        batch = convert_request(payload, seq=seq, indexed_at_ns=now)
        store.write_batches([batch], seq)
        append_rows(cursor, "bench_state_changes", state_rows(batch.spans))

    for position, size in enumerate(sizes, start=1):
        run = big_run(size, state_kb, now - WEEK_NS * position // (len(sizes) + 1))
        targets[size] = (run[-1].trace_id.hex(), run[-1].span_id.hex())
        write(run)
    chunk: list = []
    while written < background:
        trace += 1
        start = now - WEEK_NS + WEEK_NS * written // background
        spans = b.junjo_workflow_trace(nodes=3, start_ns=start, store_id=f"s-{trace}")
        chunk += spans
        written += len(spans)
        if len(chunk) >= 5000:
            write(chunk)
            chunk = []
    if chunk:
        write(chunk)
    cursor.close()
    store.close()
    return targets


# -- the two ways to read --------------------------------------------------------------------

_WITHOUT_EVENTS = [c for c in RECORD_COLUMNS if c != "events_json"]
_CHANGE_COLUMNS = (
    "span_id, event_index, event_time_ns, store_id, store_name, action, transition_sequence,"
    " revision_before, revision_after, event_id, patch, attributes_json"
)


def read_events_json(conn: Any, trace_id: str, span_id: str) -> list[dict]:
    summary = queries.trace_detail(conn, OPERATOR, trace_id)
    return summary["spans"]


def read_state_changes(conn: Any, trace_id: str, span_id: str) -> list[dict]:
    (start, end) = conn.execute(
        "SELECT start_time_ns, end_time_ns FROM traces WHERE trace_id = ?", [trace_id]
    ).fetchone()
    window = [trace_id, start, end]
    rows = conn.execute(
        f"SELECT {', '.join(_WITHOUT_EVENTS)} FROM spans"
        " WHERE trace_id = ? AND start_time_ns BETWEEN ? AND ? ORDER BY start_time_ns",
        window,
    ).fetchall()
    spans = []
    for row in rows:
        record = {}
        for name, value in zip(_WITHOUT_EVENTS, row, strict=True):
            if name.endswith("_json"):
                record[name.removesuffix("_json")] = json.loads(value)
            else:
                record[name] = value
        record["events"] = []
        spans.append(record)
    by_id = {span["span_id"]: span for span in spans}
    changes = conn.execute(
        f"SELECT {_CHANGE_COLUMNS} FROM bench_state_changes"
        " WHERE trace_id = ? AND event_time_ns BETWEEN ? AND ? ORDER BY span_id, event_index",
        window,
    ).fetchall()
    for span, _, time_ns, *lifted, rest in changes:
        attrs = json.loads(rest)
        attrs.update(
            (key, v) for key, v in zip(LIFTED.values(), lifted, strict=True) if v is not None
        )
        event = {"name": "set_state", "timeUnixNano": str(time_ns), "attributes": attrs,
                 "droppedAttributesCount": 0}  # fmt: skip
        by_id[span]["events"].append(event)
    return spans


READERS: dict[str, Callable[[Any, str, str], list[dict]]] = {
    "A events_json": read_events_json,
    "B state_changes": read_state_changes,
}


def replay(reader: Callable, conn: Any, trace_id: str, span_id: str) -> tuple[float, float, int]:
    """(read ms, total ms, transitions replayed)."""
    gc.collect()  # each starts with the same heap: no collection owed by the other's garbage
    started = time.perf_counter()
    spans = reader(conn, trace_id, span_id)
    read = time.perf_counter()
    run = build_workflow_execution(spans, span_id)
    done = time.perf_counter()
    return (read - started) * 1000, (done - started) * 1000, len(run["transitions"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", default="1000,5000", help="sizes of the big runs")
    parser.add_argument("--state-kb", type=int, default=10)
    parser.add_argument("--background-spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.transitions.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.duckdb"
        started = time.perf_counter()
        targets = build(path, args.background_spans, sizes, args.state_kb)
        store = SpanStore.open_readonly(path, memory_limit=SERVER_MEMORY_LIMIT)
        conn = store.cursor()
        (spans,) = conn.execute("SELECT count(*) FROM spans").fetchone()
        (changes,) = conn.execute("SELECT count(*) FROM bench_state_changes").fetchone()
        print(
            f"{spans:,} spans, {changes:,} state_changes rows, {args.state_kb} KB states "
            f"(built in {time.perf_counter() - started:.0f} s); median of {args.runs} runs, ms\n"
        )
        print(f"{'transitions':>11}  {'reader':<16} {'read':>8} {'total':>8} {'vs A':>6}")
        for size, (trace_id, span_id) in targets.items():
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in READERS}
            for reader in READERS.values():  # warm the caches, as a running server has
                replay(reader, conn, trace_id, span_id)
            for _ in range(args.runs):
                for name, reader in READERS.items():
                    read_ms, total_ms, replayed = replay(reader, conn, trace_id, span_id)
                    assert replayed == size, (name, replayed)
                    samples[name].append((read_ms, total_ms))
            base = statistics.median(total for _, total in samples["A events_json"])
            for name, timings in samples.items():
                read_ms = statistics.median(read for read, _ in timings)
                total_ms = statistics.median(total for _, total in timings)
                print(
                    f"{size:>11,}  {name:<16} {read_ms:>8.1f} {total_ms:>8.1f} "
                    f"{total_ms / base:>5.2f}x"
                )
        conn.close()
        store.close()


if __name__ == "__main__":
    main()
