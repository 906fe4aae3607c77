"""SpanStore: schema migrations, bulk writes, idempotency, atomicity of the position."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from junjo.features.spans import store as store_module
from junjo.features.spans import trace_summary
from junjo.features.spans.convert import convert_request
from junjo.features.spans.directory import MAX_RANGES, covering_ranges
from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_MIGRATIONS
from junjo.features.spans.store import (
    SchemaOutdated,
    SpanStore,
    StaleWrite,
)
from junjo.kernel.migrations import SchemaTooNew, current_version, migrate
from junjo.kernel.wal import SetAside
from tests.support.otlp_builders import (
    T0,
    junjo_workflow_trace,
    make_span,
    new_span_id,
    new_trace_id,
    request_payload,
)
from tests.support.span_store import convert, query

# Every test here runs on both span converters (native and python).
pytestmark = pytest.mark.usefixtures("conversion_path")


HOUR = 3600 * 1_000_000_000


def table_columns(store: SpanStore, table: str) -> list[str]:
    rows = query(
        store,
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
        " ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in rows]


def count(store: SpanStore, table: str) -> int:
    return query(store, f"SELECT count(*) FROM {table}")[0][0]


# -- schema --------------------------------------------------------------------------------


def test_fresh_store_is_at_the_latest_version(store: SpanStore):
    cursor = store.cursor()
    assert current_version(cursor) == SPAN_MIGRATIONS.latest
    assert migrate(cursor, SPAN_MIGRATIONS) == []  # nothing left to apply


def test_the_spans_table_has_the_declared_columns_in_order(store: SpanStore):
    assert table_columns(store, "spans") == list(SPAN_COLUMNS)


def test_reopening_keeps_data_and_version(store_path: Path):
    with SpanStore.open(store_path) as first:
        first.write_batches([convert(request_payload([make_span()]), seq=1)], 1)
    with SpanStore.open(store_path) as again:
        assert count(again, "spans") == 1
        assert again.indexer_state().indexed_seq == 1
        assert query(again, "SELECT count(*) FROM schema_version")[0][0] == len(
            SPAN_MIGRATIONS.steps
        )


def test_newer_schema_is_refused(store_path: Path):
    with SpanStore.open(store_path) as span_store:
        cursor = span_store.cursor()
        cursor.execute("INSERT INTO schema_version VALUES (99, 'from the future', '2030-01-01')")
        cursor.close()
    with pytest.raises(SchemaTooNew, match="version 99"):
        SpanStore.open(store_path)
    with pytest.raises(SchemaTooNew):
        SpanStore.open_readonly(store_path)


def test_readonly_open(store_path: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        SpanStore.open_readonly(tmp_path / "absent.duckdb")
    SpanStore.open(store_path).close()
    with SpanStore.open_readonly(store_path) as readonly:
        assert readonly.indexer_state().indexed_seq == 0
        with pytest.raises(RuntimeError, match="read-only"):
            readonly.write_batches([convert(request_payload([make_span()]), seq=1)], 1)


def test_readonly_open_of_an_unmigrated_file_asks_for_migrate(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(SchemaOutdated, match="junjo migrate"):
        SpanStore.open_readonly(path)


# -- writes ----------------------------------------------------------------------------------


def test_same_batch_twice_stores_each_span_once(store: SpanStore):
    payload = request_payload(junjo_workflow_trace(nodes=2))
    first = store.write_batches([convert(payload, seq=1)], 1)
    second = store.write_batches([convert(payload, seq=2)], 2)
    assert (first.inserted_spans, first.duplicate_spans) == (3, 0)
    assert (second.inserted_spans, second.duplicate_spans) == (0, 3)
    assert count(store, "spans") == 3
    assert second.state.indexed_spans == 3 and second.state.duplicate_spans == 3


def test_duplicates_inside_one_write_keep_the_first_copy(store: SpanStore):
    trace_id, span_id = new_trace_id(), new_span_id()
    first = make_span(trace_id=trace_id, span_id=span_id, name="first")
    again = make_span(trace_id=trace_id, span_id=span_id, name="second copy")
    batches = [
        convert(request_payload([first, again]), seq=1),
        convert(request_payload([again]), seq=2),
    ]
    result = store.write_batches(batches, 2)
    assert (result.inserted_spans, result.duplicate_spans) == (1, 2)
    assert query(store, "SELECT name FROM spans") == [("first",)]


def test_resent_span_is_found_even_when_the_batch_spans_days(store: SpanStore):
    # The lookup prunes by the batch's start-time ranges; a batch mixing a days-old span
    # with fresh ones must still find both among stored spans.
    old = make_span(start_ns=T0)
    fresh = make_span(start_ns=T0 + 72 * HOUR)
    skewed = make_span(start_ns=1)  # a broken clock near the epoch
    payload = request_payload([old, fresh, skewed])
    store.write_batches([convert(payload, seq=1)], 1)
    store.write_batches([convert(request_payload([make_span(start_ns=T0 + HOUR)]), seq=2)], 2)
    result = store.write_batches([convert(payload, seq=3)], 3)
    assert (result.inserted_spans, result.duplicate_spans) == (0, 3)
    assert count(store, "spans") == 4


def test_same_span_id_in_another_trace_is_not_a_duplicate(store: SpanStore):
    span_id = new_span_id()
    store.write_batches([convert(request_payload([make_span(span_id=span_id)]), seq=1)], 1)
    other = make_span(span_id=span_id)  # new random trace id
    result = store.write_batches([convert(request_payload([other]), seq=2)], 2)
    assert result.inserted_spans == 1


def test_covering_ranges_merge_overlaps_and_stay_bounded():
    assert covering_ranges([(5, 9), (1, 3), (4, 4), (20, 30)]) == [(1, 9), (20, 30)]
    many = [(i * 10, i * 10 + 1) for i in range(100)]
    ranges = covering_ranges(many)
    assert len(ranges) == MAX_RANGES and ranges == sorted(ranges)
    assert ranges[0][0] == 0 and ranges[-1][1] == 991
    assert all(any(lo <= a and b <= hi for lo, hi in ranges) for a, b in many)


def test_position_only_moves_forward(store: SpanStore):
    store.write_batches([], 5)
    with pytest.raises(StaleWrite):
        store.write_batches([convert(request_payload([make_span()]), seq=5)], 5)
    assert count(store, "spans") == 0  # the refused write left nothing behind
    assert store.indexer_state().indexed_seq == 5


def test_a_failed_write_leaves_no_rows_and_no_position(store: SpanStore, monkeypatch):
    payload = request_payload(junjo_workflow_trace(nodes=2))
    real_write = trace_summary.write

    def write_then_fail(conn, staged, first_seqs, now):
        real_write(conn, staged, first_seqs, now)  # the spans and summaries are in
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(trace_summary, "write", write_then_fail)
    with pytest.raises(duckdb.IOException):
        store.write_batches([convert(payload, seq=1)], 1)
    monkeypatch.setattr(trace_summary, "write", real_write)
    assert count(store, "spans") == 0 and count(store, "traces") == 0
    assert store.indexer_state().indexed_seq == 0
    result = store.write_batches([convert(payload, seq=1)], 1)  # the retry
    assert result.inserted_spans == 3


def test_batches_of_both_converters_in_one_write(store: SpanStore):
    """A group mixes native batches with row batches (a request the walker declined):
    one write, the first copy of a repeated span kept, whichever batch holds it."""
    trace_id = new_trace_id()
    spans = [make_span(trace_id=trace_id, name=f"s{i}", start_ns=T0 + i) for i in range(4)]
    first, second = request_payload(spans[:3]), request_payload(spans[1:])
    batches = [convert(first, seq=1), convert_request(second, seq=2)]
    result = store.write_batches(batches, 2)
    assert (result.inserted_spans, result.duplicate_spans) == (4, 2)
    assert query(store, "SELECT name, wal_seq FROM spans ORDER BY name") == [
        ("s0", 1), ("s1", 1), ("s2", 1), ("s3", 2)
    ]  # fmt: skip
    assert query(store, "SELECT span_count, root_name FROM traces") == [(4, "s0")]


def test_quarantined_entries_are_counted_with_the_position(store: SpanStore):
    bad = SetAside(seq=3, received_at_ns=42, api_key_id="k", span_count=7, error="boom",
                   payload=b"\x00raw")  # fmt: skip
    state = store.write_batches([], 3, [bad]).state
    assert (state.quarantined_batches, state.quarantined_spans, state.indexed_seq) == (1, 7, 3)
    # A part of a batch leaves the position where it is.
    state = store.write_batches([], None, [bad]).state
    assert (state.quarantined_batches, state.quarantined_spans, state.indexed_seq) == (2, 14, 3)


# -- checkpoints and row groups ----------------------------------------------------------


def row_groups(store: SpanStore) -> int:
    sql = "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('spans')"
    ((groups,),) = query(store, sql)
    return groups


def write(store: SpanStore, seq: int, *, checkpoint: bool) -> None:
    spans = [make_span() for _ in range(20)]
    store.write_batches([convert(request_payload(spans), seq=seq)], seq)
    if checkpoint:
        query(store, "CHECKPOINT")


def test_writes_do_not_merge_row_groups_and_idle_time_does_hourly(store: SpanStore, monkeypatch):
    # Merging at every checkpoint rewrote the growing last row group again and again
    # (checkpoints of 0.8-3.7 s instead of ~0.9 s); an hourly idle-time merge keeps the count low.
    monkeypatch.setattr(store_module, "_CHECKPOINT_AT_IDLE_BYTES", 0)
    for seq in (1, 2, 3):
        write(store, seq, checkpoint=True)
    assert row_groups(store) == 3  # one per checkpoint: nothing merged while writing
    write(store, 4, checkpoint=False)
    store.release_memory()
    assert row_groups(store) == 1  # the first idle checkpoint merges them
    write(store, 5, checkpoint=True)
    write(store, 6, checkpoint=False)
    store.release_memory()
    assert row_groups(store) == 3  # within the hour: checkpointed, not merged
    assert count(store, "spans") == 120
    assert query(store, "SELECT current_setting('max_vacuum_tasks')")[0][0] == 0


def test_spans_stored_under_the_old_llm_rule_are_reflagged_and_recounted(tmp_path: Path):
    """Before migration 6 a GenAI span without gen_ai.operation.name was no LLM call (its
    tokens counted, its model did not show) and an agent span was one."""
    path, trace_id = tmp_path / "old.duckdb", new_trace_id()
    old_style = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini"}
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai"}
    kinds = (old_style, old_style, agent, {})
    spans = [make_span(trace_id=trace_id, attributes=a) for a in kinds]
    rows = convert_request(request_payload(spans), seq=1).spans
    conn = duckdb.connect(str(path))
    migrate(conn, dataclasses.replace(SPAN_MIGRATIONS, steps=SPAN_MIGRATIONS.steps[:5]))
    conn.executemany(
        f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(rows[0]))})",
        rows,
    )
    # The flags the old rule gave them.
    conn.execute(
        "UPDATE spans SET is_llm ="
        " json_extract_string(attributes_json, '$.\"gen_ai.operation.name\"') IS NOT NULL"
    )
    conn.execute(trace_summary.BACKFILL)
    assert conn.execute("SELECT llm_count FROM traces").fetchall() == [(1,)]
    conn.close()
    with SpanStore.open(path) as store:
        flagged = query(store, "SELECT llm_model_name FROM spans WHERE is_llm")
        assert flagged == [("gpt-4o-mini",)] * 2
        assert query(store, "SELECT llm_count FROM traces") == [(2,)]
