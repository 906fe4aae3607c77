"""The per-trace summary kept by the writer: counts, times, tokens and the representative
span, right whatever order a trace's spans arrive in, and equal to a rebuild from spans."""

from pathlib import Path

import duckdb
import pytest

from junjo.features.spans import trace_summary
from junjo.features.spans.store import SpanStore
from tests.support.otlp_builders import (
    MS,
    T0,
    llm_span,
    make_span,
    new_span_id,
    new_trace_id,
)
from tests.support.span_store import write_spans

# Every test here runs on both span converters (native and python).
pytestmark = pytest.mark.usefixtures("conversion_path")


COLUMNS = [c.strip() for c in trace_summary.SUMMARY_COLUMNS.split(",")]


def summary(store: SpanStore, trace_id: bytes) -> dict:
    cursor = store.cursor()
    row = cursor.execute(
        f"SELECT {trace_summary.SUMMARY_COLUMNS} FROM traces WHERE trace_id = ?", [trace_id.hex()]
    ).fetchone()
    return dict(zip(COLUMNS, row, strict=True))


def test_children_first_then_the_root_takes_over(tmp_path: Path):
    trace, root_id = new_trace_id(), new_span_id()
    with SpanStore.open(tmp_path / "s.duckdb") as store:
        child = make_span(
            trace_id=trace, parent_span_id=root_id, name="child", start_ns=T0 + MS,
            status_code=2,
        )  # fmt: skip
        write_spans(store, 1, [child], service="worker")
        first = summary(store, trace)
        assert (first["root_name"], first["root_indexed_at_ns"]) == ("child", None)
        assert first["service_name"] == "worker"  # listed before its root arrives
        llm = llm_span(trace_id=trace, parent_span_id=root_id, start_ns=T0 + 2 * MS)
        root = make_span(
            trace_id=trace, span_id=root_id, name="root", start_ns=T0, end_ns=T0 + 9 * MS
        )
        write_spans(store, 2, [llm, root], service="front")
        write_spans(store, 3, [root])  # a retried export: no double counting
        final = summary(store, trace)
    assert (final["root_name"], final["root_span_id"], final["service_name"]) == (
        "root", root_id.hex(), "front"
    )  # fmt: skip
    assert final["root_parent_span_id"] is None and final["root_indexed_at_ns"] is not None
    assert (final["span_count"], final["error_count"], final["llm_count"]) == (3, 1, 1)
    assert (final["prompt_tokens"], final["completion_tokens"]) == (12, 30)
    assert (final["start_time_ns"], final["end_time_ns"]) == (T0, T0 + 9 * MS)


def test_backfill_rebuilds_the_same_summary(tmp_path: Path):
    traces = [new_trace_id() for _ in range(5)]
    with SpanStore.open(tmp_path / "s.duckdb") as store:
        for seq, trace in enumerate(traces, start=1):
            root_id = new_span_id()
            spans = [
                make_span(trace_id=trace, parent_span_id=root_id, start_ns=T0 + seq * MS),
                llm_span(trace_id=trace, parent_span_id=root_id, start_ns=T0 + seq * MS),
            ]
            write_spans(store, seq * 2, spans)
            root = make_span(trace_id=trace, span_id=root_id, start_ns=T0)
            write_spans(store, seq * 2 + 1, [root])
    conn = duckdb.connect(str(tmp_path / "s.duckdb"))
    kept = conn.execute(f"SELECT {trace_summary.SUMMARY_COLUMNS} FROM traces ORDER BY 1").fetchall()
    conn.execute("DELETE FROM traces")
    conn.execute(trace_summary.BACKFILL)
    rebuilt = conn.execute(
        f"SELECT {trace_summary.SUMMARY_COLUMNS} FROM traces ORDER BY 1"
    ).fetchall()
    ignore = {
        COLUMNS.index(c)
        for c in ("first_indexed_at_ns", "last_indexed_at_ns", "root_indexed_at_ns")
    }

    def comparable(rows):
        return [tuple(v for i, v in enumerate(row) if i not in ignore) for row in rows]

    assert len(kept) == 5 and comparable(kept) == comparable(rebuilt)


def test_one_write_of_many_traces_sums_tokens_and_breaks_ties_by_arrival(tmp_path: Path):
    """The summary of one write is one SQL GROUP BY over the staged rows: tokens stay NULL
    until a span has some, NULL counts add as nothing, and of two candidates with the same
    rank the first one sent represents the trace."""
    plain, tied, llm = new_trace_id(), new_trace_id(), new_trace_id()
    first, second = new_span_id(), new_span_id()
    spans = [
        make_span(trace_id=plain, name="a", start_ns=T0 + 5 * MS, parent_span_id=new_span_id()),
        make_span(trace_id=plain, name="b", start_ns=T0 + 1 * MS, parent_span_id=new_span_id()),
        make_span(trace_id=tied, span_id=first, name="first", start_ns=T0),
        make_span(trace_id=tied, span_id=second, name="second", start_ns=T0),
        llm_span(trace_id=llm, parent_span_id=new_span_id(), prompt_tokens=5),
        make_span(trace_id=llm, parent_span_id=new_span_id(), start_ns=T0 - MS, status_code=2),
        llm_span(trace_id=llm, parent_span_id=new_span_id(), prompt_tokens=7),
    ]
    with SpanStore.open(tmp_path / "s.duckdb") as store:
        write_spans(store, 4, spans)
        by_trace = {t: summary(store, t) for t in (plain, tied, llm)}
    assert by_trace[plain]["root_name"] == "b" and by_trace[plain]["root_indexed_at_ns"] is None
    assert by_trace[plain]["prompt_tokens"] is None and by_trace[plain]["total_tokens"] is None
    assert by_trace[tied]["root_span_id"] == first.hex()  # tied with "second": sent first
    assert by_trace[tied]["root_indexed_at_ns"] == by_trace[tied]["first_indexed_at_ns"]
    assert (by_trace[llm]["prompt_tokens"], by_trace[llm]["completion_tokens"]) == (12, 60)
    assert (by_trace[llm]["span_count"], by_trace[llm]["error_count"]) == (3, 1)
    assert by_trace[llm]["llm_count"] == 2 and by_trace[llm]["start_time_ns"] == T0 - MS
    assert by_trace[llm]["root_start_time_ns"] == T0 - MS  # the earliest, no root yet
