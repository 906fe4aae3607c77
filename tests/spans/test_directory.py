"""The trace directory and what it buys: writes whose cost and memory do not grow with the
table, whatever the timestamps; and how it recovers from crashes, loss and old stores."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import duckdb
import pytest

from junjo.features.spans import trace_summary
from junjo.features.spans.convert import convert_request
from junjo.features.spans.directory import TraceDirectory
from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_MIGRATIONS
from junjo.features.spans.store import SpanStore, directory_path
from junjo.kernel.migrations import migrate
from tests.support.otlp_builders import T0, make_span, new_span_id, new_trace_id, request_payload
from tests.support.span_store import convert, query

# Every test here runs on both span converters (native and python).
pytestmark = pytest.mark.usefixtures("conversion_path")


def backfill_request(traces: int, spans_per_trace: int) -> bytes:
    """New trace ids, every span starting at the same instant: a backfill or a replay."""
    spans = []
    for _ in range(traces):
        trace_id = os.urandom(16)
        spans += [
            make_span(trace_id=trace_id, start_ns=T0, attributes={"text": "x" * 200})
            for _ in range(spans_per_trace)
        ]
    return request_payload(spans)


def counts(store: SpanStore) -> tuple[int, int]:
    ((spans,),) = query(store, "SELECT count(*) FROM spans")
    ((traces, distinct),) = query(store, "SELECT count(*), count(DISTINCT trace_id) FROM traces")
    assert traces == distinct, "one summary row per trace"
    return spans, traces


@pytest.mark.parametrize(("spans_per_trace", "requests"), [(16, 200), (1, 60)])
def test_a_backfill_never_fails_a_write_under_a_small_memory_limit(
    tmp_path: Path, spans_per_trace: int, requests: int
):

    # Before: rows not yet checkpointed (up to 128 MB of WAL) could hold all of a 64 MB
    # limit, and the duplicate lookup by start-time range read the whole table once every
    # span shared one instant. Writes then failed with "failed to pin block", for good: at
    # 64 MB from ~400k spans, at 16 MB from the first write. With the lookup by WAL position
    # and checkpoints at half the limit, 100k spans go into 16 MB (a lookup that scanned the
    # table, put back, fails there between 60k and 100k).
    per_request = 512
    with SpanStore.open(tmp_path / "spans.duckdb", memory_limit="16MB") as store:
        for seq in range(2, requests + 1, 2):  # two requests a write, as under steady load
            payloads = [backfill_request(per_request // spans_per_trace, spans_per_trace)
                        for _ in range(2)]  # fmt: skip
            batches = [convert(p, seq=seq - 1 + i) for i, p in enumerate(payloads)]
            store.write_batches(batches, seq)
            if seq == 2:
                first = payloads[0]
        total = requests * per_request
        assert counts(store) == (total, total // spans_per_trace)
        # Re-sent: the first request (long checkpointed) and the latest one are recognised.
        again = [
            convert(first, seq=requests + 1),
            convert(payloads[1], seq=requests + 2),
        ]
        result = store.write_batches(again, requests + 2)
        assert (result.inserted_spans, result.duplicate_spans) == (0, 2 * per_request)
        assert counts(store) == (total, total // spans_per_trace)


def test_no_table_that_grows_has_an_in_memory_index(store_path: Path):
    # DuckDB holds ART indexes (PRIMARY KEY, UNIQUE, CREATE INDEX) in memory whole and never
    # evicts them: ~700k trace ids filled 64 MB. Only the one-row indexer_state and
    # schema_version (a row per migration, keyed like every store's) may have one.
    with SpanStore.open(store_path) as store:
        keyed = query(
            store,
            "SELECT DISTINCT table_name FROM duckdb_constraints()"
            " WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
            " UNION SELECT table_name FROM duckdb_indexes()",
        )
        assert sorted(keyed) == [("indexer_state",), ("schema_version",)]


def test_spans_of_a_trace_arriving_in_several_writes_update_one_summary(store_path: Path):
    trace_id, root_id = new_trace_id(), new_span_id()
    with SpanStore.open(store_path) as store:
        child = make_span(trace_id=trace_id, parent_span_id=root_id, start_ns=T0 + 5)
        store.write_batches([convert(request_payload([child]), seq=1)], 1)
        other = make_span(start_ns=T0)  # another trace between the two
        store.write_batches([convert(request_payload([other]), seq=2)], 2)
        root = make_span(trace_id=trace_id, span_id=root_id, name="root", start_ns=T0)
        store.write_batches([convert(request_payload([root, child]), seq=3)], 3)
        rows = query(
            store,
            "SELECT root_name, root_parent_span_id, span_count, first_wal_seq FROM traces"
            " WHERE trace_id = ?",
            [trace_id.hex()],
        )
        assert rows == [("root", None, 2, 1)]


def test_a_crash_before_the_directory_commit_is_caught_up(store_path: Path, monkeypatch):
    trace_id = new_trace_id()
    payload = request_payload([make_span(trace_id=trace_id), make_span(trace_id=trace_id)])
    with SpanStore.open(store_path) as store:

        def crash(*args, **kwargs):
            raise OSError("the process died here")

        monkeypatch.setattr(TraceDirectory, "record", crash)
        store.write_batches([convert(payload, seq=1)], 1)  # DuckDB committed
        monkeypatch.undo()
    with TraceDirectory(directory_path(store_path)) as directory:
        assert directory.through_seq == 0 and directory.lookup([trace_id.hex()]) == {}
    with SpanStore.open(store_path) as store:  # reopening catches the directory up
        result = store.write_batches([convert(payload, seq=2)], 2)
        assert (result.inserted_spans, result.duplicate_spans) == (0, 2)
        assert counts(store) == (2, 1)


def test_a_failed_directory_update_is_caught_up_by_the_next_write(store_path: Path, monkeypatch):
    payload = request_payload([make_span(), make_span()])
    with SpanStore.open(store_path) as store:
        real_record = TraceDirectory.record
        calls = []

        def fail_once(self, rows, through_seq):
            calls.append(through_seq)
            if len(calls) == 1:
                raise OSError("disk I/O error")
            return real_record(self, rows, through_seq)

        monkeypatch.setattr(TraceDirectory, "record", fail_once)
        store.write_batches([convert(payload, seq=1)], 1)
        result = store.write_batches([convert(payload, seq=2)], 2)
        assert (result.inserted_spans, result.duplicate_spans) == (0, 2)
        assert counts(store) == (2, 2)


def test_a_lost_or_stale_directory_is_rebuilt(store_path: Path, tmp_path: Path):
    payload = request_payload([make_span(), make_span()])
    with SpanStore.open(store_path) as store:
        store.write_batches([convert(payload, seq=1)], 1)
    directory_path(store_path).unlink()
    with SpanStore.open(store_path) as store:  # lost: rebuilt from the spans
        result = store.write_batches([convert(payload, seq=2)], 2)
        assert result.duplicate_spans == 2
    # Ahead of its store (the store was replaced by an empty one): forgotten, not trusted.
    store_path.unlink()
    with SpanStore.open(store_path) as store:
        result = store.write_batches([convert(payload, seq=1)], 1)
        assert (result.inserted_spans, result.duplicate_spans) == (2, 0)
        assert counts(store) == (2, 2)


def test_a_store_written_before_the_directory_is_upgraded(tmp_path: Path):
    """Version 2 kept a PRIMARY KEY on traces and had no first_wal_seq or directory."""
    path = tmp_path / "old.duckdb"
    trace_id = new_trace_id()
    payload = request_payload([make_span(trace_id=trace_id), make_span(trace_id=trace_id)])
    rows = convert_request(payload, seq=7).spans
    conn = duckdb.connect(str(path))
    migrate(conn, dataclasses.replace(SPAN_MIGRATIONS, steps=SPAN_MIGRATIONS.steps[:2]))
    columns = ", ".join(SPAN_COLUMNS)
    conn.executemany(
        f"INSERT INTO spans ({columns}) VALUES ({', '.join('?' * len(rows[0]))})", rows
    )
    conn.execute(trace_summary.BACKFILL)
    conn.execute("UPDATE indexer_state SET indexed_seq = 7, indexed_spans = 2")
    conn.close()
    with SpanStore.open(path) as store:
        assert query(store, "SELECT max(version) FROM schema_version") == [
            (SPAN_MIGRATIONS.latest,)
        ]
        assert query(store, "SELECT span_count, first_wal_seq FROM traces") == [(2, 7)]
        result = store.write_batches([convert(payload, seq=8)], 8)
        assert result.duplicate_spans == 2
        more = request_payload([make_span(trace_id=trace_id)])
        store.write_batches([convert(more, seq=9)], 9)
        assert counts(store) == (3, 1)
        assert query(store, "SELECT span_count FROM traces") == [(3,)]


def test_a_part_of_a_batch_stored_before_a_crash_is_known_after_it(store_path: Path, monkeypatch):
    # Parts of a batch are stored past the position (it moves with the batch's last part);
    # if the directory missed them, the re-read batch would store them twice.
    trace_id = new_trace_id()
    payload = request_payload([make_span(trace_id=trace_id), make_span(trace_id=trace_id)])
    with SpanStore.open(store_path) as store:
        store.write_batches([convert(request_payload([make_span()]), seq=1)], 1)
        first, _ = convert(payload, seq=2).halves()
        monkeypatch.setattr(TraceDirectory, "record", lambda *args: (_ for _ in ()).throw(OSError))
        store.write_batches([first], None)  # committed; then the process dies
        monkeypatch.undo()
    with SpanStore.open(store_path) as store:  # the batch is read again, whole
        result = store.write_batches([convert(payload, seq=2)], 2)
        assert (result.inserted_spans, result.duplicate_spans) == (1, 1)
        assert counts(store) == (3, 2)
        assert query(
            store, "SELECT span_count FROM traces WHERE trace_id = ?", [trace_id.hex()]
        ) == [(2,)]
