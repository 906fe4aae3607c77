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
