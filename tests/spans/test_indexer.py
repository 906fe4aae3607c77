"""The indexer thread end to end: real WAL file → Indexer → real DuckDB file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import duckdb
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from junjo.features.spans import converter as converter_module
from junjo.features.spans import indexer as indexer_module
from junjo.features.spans.convert import ConvertedBatch
from junjo.features.spans.indexer import Indexer, _take_spans
from junjo.features.spans.store import SpanStore
from junjo.kernel.wal import WalBatch, WriteAheadLog
from tests.support import span_store
from tests.support.otlp_builders import (
    T0,
    junjo_workflow_trace,
    llm_span,
    make_event,
    make_request,
    make_resource_spans,
    make_span,
    new_trace_id,
    request_payload,
    span_count,
)
from tests.support.span_store import convert, query, query_dicts
from tests.support.wait import wait_until

# Every test here runs on both span converters (native and python).
pytestmark = pytest.mark.usefixtures("conversion_path")


def append(wal: WriteAheadLog, payload: bytes, spans: int, key: str | None = "key-1") -> int:
    return wal.append(payload, spans, key)


def simple_payload(n: int = 3, **kwargs) -> bytes:
    return request_payload([make_span(name=f"s{i}", start_ns=T0 + i) for i in range(n)], **kwargs)


def wal_drained(wal: WriteAheadLog, timeout: float = 10) -> bool:
    """The WAL is pruned after each commit, just after flush() has returned."""
    return wait_until(lambda: wal.totals().pending_batches == 0, timeout, message="WAL not pruned")


def wait_idle_for(indexer: Indexer, seconds: float) -> None:
    """Until the indexer has been idle ``seconds`` and then finished an idle poll (a poll's
    work, such as releasing memory, is done once the next poll has begun)."""
    wait_until(lambda: indexer._idle_since is not None)
    idle_since = indexer._idle_since
    wait_until(lambda: time.monotonic() >= idle_since + seconds)
    wait_idle_polls(indexer, 1)


def wait_idle_polls(indexer: Indexer, polls: int) -> None:
    """Until the idle indexer has finished ``polls`` more polls of the empty WAL."""
    start = indexer._empty_reads
    wait_until(lambda: indexer._empty_reads >= start + polls + 1)


def quarantine_rows(wal: WriteAheadLog, columns: str) -> list[tuple]:
    """The quarantine kept in the WAL file, read as another process would."""
    with contextlib.closing(sqlite3.connect(wal.path)) as conn:
        return conn.execute(f"SELECT {columns} FROM quarantine ORDER BY id").fetchall()


def stored_count(store: SpanStore, table: str = "spans") -> int:
    return query(store, f"SELECT count(*) FROM {table}")[0][0]


def test_indexes_a_mixed_request(wal, store, make_indexer):
    trace_id = new_trace_id()
    workflow_spans = junjo_workflow_trace(trace_id=trace_id, store_id="store-7", nodes=2)
    request = make_request(
        [
            make_resource_spans(workflow_spans, service_name="workflows"),
            make_resource_spans(
                [
                    llm_span(trace_id=trace_id, parent_span_id=workflow_spans[0].span_id),
                    make_span(status_code=2, status_message="bad"),
                ],
                service_name="llm-proxy",
            ),
        ]
    )
    indexer = make_indexer(store)
    seq = append(wal, request.SerializeToString(), span_count(request))
    indexer.wake()
    assert indexer.flush(timeout=10)

    spans = query_dicts(store, "SELECT * FROM spans ORDER BY start_time_ns, name")
    assert len(spans) == 5
    by_service = {}
    for span in spans:
        by_service.setdefault(span["service_name"], []).append(span)
    assert len(by_service["workflows"]) == 3 and len(by_service["llm-proxy"]) == 2
    workflow = next(s for s in spans if s["junjo_span_type"] == "workflow")
    assert workflow["trace_id"] == trace_id.hex() and workflow["parent_span_id"] is None
    assert workflow["junjo_store_id"] == "store-7" and workflow["kind"] == 1
    assert all(s["api_key_id"] == "key-1" and s["wal_seq"] == seq for s in spans)
    assert [s["is_llm"] for s in spans].count(True) == 1
    assert [s["is_error"] for s in spans].count(True) == 1
    llm = next(s for s in spans if s["is_llm"])
    assert llm["llm_total_tokens"] == 42 and llm["llm_model_name"] == "gpt-test"

    node = next(s for s in spans if s["name"] == "Node0")
    (event,) = json.loads(node["events_json"])
    assert event["timeUnixNano"] == str(T0 + 1_500_000)
    changes = sorted(
        (e["attributes"]["junjo.store.id"], e["attributes"]["junjo.store.transition.sequence"])
        for s in spans
        for e in json.loads(s["events_json"])
        if e["name"] == "set_state"
    )
    assert changes == [("store-7", 1), ("store-7", 2)]

    status = indexer.status()
    assert (status.indexed_seq, status.indexed_spans) == (seq, 5)
    assert status.oldest_unindexed_received_at_ns is None
    assert status.last_indexed_at_ns is not None and status.running
    assert wal_drained(wal)  # pruned once committed


def test_same_batch_appended_twice_is_stored_once(wal, store, make_indexer):
    payload = request_payload(junjo_workflow_trace(nodes=2))
    indexer = make_indexer(store)
    append(wal, payload, 3)
    append(wal, payload, 3)
    assert indexer.flush(timeout=10)
    assert stored_count(store) == 3
    status = indexer.status()
    assert (status.indexed_spans, status.duplicate_spans) == (3, 3)


def test_garbage_is_quarantined_and_the_next_batch_still_indexed(wal, store, make_indexer):
    garbage = b"\x0a\xff\xff\xff\xff this is not protobuf"
    bad_seq = append(wal, garbage, 4)
    append(wal, simple_payload(2), 2)
    indexer = make_indexer(store)
    assert indexer.flush(timeout=10)

    assert stored_count(store) == 2
    rows = quarantine_rows(wal, "seq, api_key_id, span_count, error, payload")
    assert len(rows) == 1
    seq, key, spans, error, payload = rows[0]
    assert (seq, key, spans, payload) == (bad_seq, "key-1", 4, garbage)
    assert error.startswith("convert: DecodeError")
    status = indexer.status()
    assert (status.quarantined_batches, status.quarantined_spans) == (1, 4)
    assert wal_drained(wal)


def test_a_span_duckdb_refuses_is_quarantined_alone(wal, store, make_indexer, monkeypatch):
    real_convert = converter_module.convert_payload

    def poisoning_convert(payload, **kwargs):
        batch = real_convert(payload, **kwargs)
        rows = batch.native.to_rows() if batch.native is not None else batch.spans
        if not any(row[4] == "poison" for row in rows):
            return batch  # on the native path, the group's other batches stay columns
        # name "poison": give it a kind DuckDB cannot store
        rows = [(*r[:5], "not-a-kind", *r[6:]) if r[4] == "poison" else r for r in rows]
        return ConvertedBatch(batch.seq, rows, batch.truncated_values, batch.failed)

    monkeypatch.setattr(converter_module, "convert_payload", poisoning_convert)
    good_before = append(wal, simple_payload(2), 2)
    poisoned = append(wal, request_payload([make_span(name="poison"), make_span()]), 2)
    good_after = append(wal, simple_payload(3), 3)
    indexer = make_indexer(store)  # all three are read as one group
    assert indexer.flush(timeout=10)

    # The group, then the batch, then the batch's halves were refused: its other span is
    # stored, and only the poison span is set aside, re-packed as a request of its own.
    assert stored_count(store) == 6
    assert query(store, "SELECT wal_seq, count(*) FROM spans GROUP BY 1 ORDER BY 1") == [
        (good_before, 2),
        (poisoned, 1),
        (good_after, 3),
    ]
    ((seq, spans, error, payload),) = quarantine_rows(wal, "seq, span_count, error, payload")
    assert (seq, spans) == (poisoned, 1) and error.startswith("store: ConversionException")
    repacked = ExportTraceServiceRequest.FromString(payload)
    assert [s.name for s in repacked.resource_spans[0].scope_spans[0].spans] == ["poison"]
    status = indexer.status()
    assert (status.indexed_seq, status.indexed_spans, status.quarantined_spans) == (
        good_after,
        6,
        1,
    )


def test_transient_store_errors_are_retried_without_skipping(wal, store, make_indexer):
    real_write = store.write_batches
    calls = {"n": 0}

    seen = threading.Event()

    def flaky_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise duckdb.IOException("No space left on device")
        seen.wait(10)  # the error stays visible until the test has looked at it
        return real_write(*args, **kwargs)

    store.write_batches = flaky_write
    append(wal, simple_payload(3), 3)
    indexer = make_indexer(store)
    error = wait_until(lambda: indexer.status().last_error)
    assert "No space left" in error
    assert indexer.status().oldest_unindexed_received_at_ns is not None  # lag is visible
    seen.set()
    assert indexer.flush(timeout=10)
    assert calls["n"] == 3
    assert stored_count(store) == 3 and quarantine_rows(wal, "id") == []
    assert indexer.status().last_error is None


def test_resume_after_crash_between_commit_and_prune(wal, store_path, make_indexer):
    payloads = [simple_payload(2), simple_payload(3)]
    seqs = [append(wal, p, 0) for p in payloads]
    # The crash: both batches committed to DuckDB, the process dies before pruning the WAL.
    crashed = SpanStore.open(store_path)
    converted = [convert(p, seq=s) for p, s in zip(payloads, seqs, strict=True)]
    crashed.write_batches(converted, seqs[-1])
    crashed.close()
    assert wal.totals().pending_batches == 2

    with SpanStore.open(store_path) as reopened:
        indexer = make_indexer(reopened)
        assert wal_drained(wal)  # pruned at start, nothing re-indexed
        third = append(wal, simple_payload(4), 4)
        assert indexer.flush(timeout=10)
        assert stored_count(reopened) == 9  # nothing lost
        status = indexer.status()
        assert (status.indexed_seq, status.duplicate_spans) == (third, 0)  # nothing read twice
        assert indexer.stop(timeout=10)


def test_restart_continues_from_the_stored_position(wal, store_path, make_indexer):
    first_store = SpanStore.open(store_path)
    first = make_indexer(first_store)
    append(wal, simple_payload(2), 2)
    assert first.flush(timeout=10)
    assert first.stop(timeout=10)
    first_store.close()

    append(wal, simple_payload(5), 5)
    with SpanStore.open(store_path) as second_store:
        second = make_indexer(second_store)
        assert second.status().indexed_spans == 2  # loaded from indexer_state
        assert second.flush(timeout=10)
        assert stored_count(second_store) == 7
        assert second.status().duplicate_spans == 0
        assert second.stop(timeout=10)


def test_stop_indexes_what_is_already_in_the_wal(wal, store):
    last = 0
    for _ in range(5):
        last = append(wal, simple_payload(3), 3)
    indexer = Indexer(wal, store, idle_poll_seconds=10, converter=span_store.CONVERSION_PATH)
    indexer.start()
    assert indexer.stop(timeout=10)
    assert indexer.status().indexed_seq == last
    assert stored_count(store) == 15
    assert not indexer.status().running


def test_wake_beats_the_idle_poll(wal, store, make_indexer):
    indexer = make_indexer(store, idle_poll_seconds=30)
    wait_until(lambda: indexer._empty_reads)  # idle: found the WAL empty, now waits 30 s
    seq = append(wal, simple_payload(1), 1)
    indexer.wake()
    # Not flush(), which wakes the indexer itself; 10 s is long before the 30 s poll.
    wait_until(lambda: indexer.status().indexed_seq == seq, timeout=10)


def test_flush_times_out_when_nothing_indexes(wal, store):
    append(wal, simple_payload(1), 1)
    indexer = Indexer(wal, store)  # never started
    assert indexer.flush(timeout=0.1) is False


def test_exception_event_marks_error_in_the_store(wal, store, make_indexer):
    span = make_span(events=[make_event("exception", T0, {"exception.type": "ValueError"})])
    indexer = make_indexer(store)
    append(wal, request_payload([span]), 1)
    assert indexer.flush(timeout=10)
    assert query(store, "SELECT is_error, status_code FROM spans") == [(True, 0)]


def test_take_spans_caps_a_group_but_always_takes_one():
    def batch(seq: int, spans: int) -> WalBatch:
        return WalBatch(seq, 0, None, spans, b"")

    batches = [batch(1, 4), batch(2, 4), batch(3, 4)]
    assert [b.seq for b in _take_spans(batches, 8)] == [1, 2]
    assert [b.seq for b in _take_spans(batches, 100)] == [1, 2, 3]
    assert [b.seq for b in _take_spans([batch(1, 50_000)], 10)] == [1]


def test_open_store_path_is_a_file(store_path: Path, store: SpanStore):
    assert store_path.is_file() and store.path == store_path


def test_a_replaced_wal_is_indexed_and_numbered_after_the_store(tmp_path, store, make_indexer, wal):
    for _ in range(3):
        append(wal, simple_payload(1), 1)
    first = make_indexer(store)
    assert first.flush(timeout=10)
    assert first.stop(timeout=10)
    # The WAL file is deleted: the new one numbers its batches from 1 again.
    fresh_wal = WriteAheadLog(tmp_path / "new-wal.db")
    try:
        append(fresh_wal, simple_payload(2), 2)
        indexer = Indexer(
            fresh_wal, store, idle_poll_seconds=0.01, converter=span_store.CONVERSION_PATH
        )
        indexer.start()
        assert indexer.flush(timeout=10)
        assert indexer.stop(timeout=10)
        assert stored_count(store) == 5
        # Numbered on from the store's position, so positions never go back.
        assert indexer.status().indexed_seq == 4
        assert query(store, "SELECT max(wal_seq) FROM spans") == [(4,)]
        assert append(fresh_wal, simple_payload(1), 1) == 5
    finally:
        fresh_wal.close()


def test_flush_returns_once_drained_even_if_the_wal_seq_is_ahead(tmp_path, store_path, wal):
    # The WAL's batches were indexed and pruned under a store that was then deleted.
    append(wal, simple_payload(1), 1)
    with SpanStore.open(tmp_path / "old.duckdb") as old_store:
        old = Indexer(wal, old_store, converter=span_store.CONVERSION_PATH)
        old.start()
        assert old.flush(timeout=10) and old.stop(timeout=10)
    with SpanStore.open(store_path) as new_store:
        indexer = Indexer(
            wal, new_store, idle_poll_seconds=0.01, converter=span_store.CONVERSION_PATH
        )
        indexer.start()
        assert indexer.flush(timeout=5)  # nothing left to index: must not wait forever
        assert indexer.stop(timeout=10)


def test_stop_while_retrying_leaves_the_batch_in_the_wal(wal, store):
    def always_full(*args, **kwargs):
        raise duckdb.IOException("No space left on device")

    store.write_batches = always_full
    append(wal, simple_payload(2), 2)
    indexer = Indexer(wal, store, idle_poll_seconds=0.01, converter=span_store.CONVERSION_PATH)
    indexer.start()
    wait_until(lambda: indexer.status().last_error)
    started = time.monotonic()
    assert indexer.stop(timeout=10)
    assert time.monotonic() - started < 5  # the backoff wait is interrupted
    assert indexer.status().indexed_seq == 0
    assert wal.totals().pending_batches == 1  # kept for the next start


def test_release_memory_restores_the_limit(store):
    cursor = store.cursor()
    before = cursor.execute("SELECT current_setting('memory_limit')").fetchone()
    store.release_memory()
    after = cursor.execute("SELECT current_setting('memory_limit')").fetchone()
    cursor.close()
    assert before == after


def test_memory_is_released_once_idle_after_writing(wal, store, make_indexer, monkeypatch):
    monkeypatch.setattr(indexer_module, "_RELEASE_AFTER_IDLE_S", 0.05)
    released = []
    store.release_memory = lambda: released.append(time.monotonic())
    indexer = make_indexer(store)
    wait_idle_for(indexer, 0.05)
    assert released == []  # nothing written yet: nothing to hand back
    append(wal, simple_payload(2), 2)
    assert indexer.flush(timeout=10)
    wait_until(lambda: released)
    wait_idle_polls(indexer, 10)
    assert len(released) == 1  # once per burst, not on every idle poll


def test_a_refused_span_of_a_native_batch_is_quarantined_alone(
    wal, store, make_indexer, monkeypatch, conversion_path
):
    """The batch holding the span is written in halves (a native batch becomes rows for
    that) down to the one span, whichever converter made it."""
    from junjo.features.spans import store as store_module

    real_stage = store_module._stage

    def refusing_stage(conn, parts):
        real_stage(conn, parts)
        if conn.execute("SELECT count(*) FROM incoming_spans WHERE name = 'poison'").fetchone()[0]:
            raise duckdb.ConversionException("poison")

    monkeypatch.setattr(store_module, "_stage", refusing_stage)
    natives = []
    real_convert = converter_module.convert_payload

    def recording(payload, **kwargs):
        batch = real_convert(payload, **kwargs)
        natives.append(batch.native is not None)
        return batch

    monkeypatch.setattr(converter_module, "convert_payload", recording)
    spans = [make_span(name="poison")] + [make_span(name=f"ok{i}") for i in range(4)]
    poisoned = append(wal, request_payload(spans), 5)
    append(wal, simple_payload(2), 2)
    indexer = make_indexer(store)
    assert indexer.flush(timeout=10)
    assert natives == [conversion_path == "native"] * 2
    assert stored_count(store) == 6
    ((seq, count, error),) = quarantine_rows(wal, "seq, span_count, error")
    assert (seq, count) == (poisoned, 1) and error == "store: ConversionException: poison"


def test_the_indexer_says_which_conversion_path_runs(wal, store, make_indexer, conversion_path):
    """The server logs it once it listens (tests/server: "span conversion: ...")."""
    expected = {
        "native": "native (C extension)",
        "python": 'python (setting converter = "python")',
    }[conversion_path]
    assert make_indexer(store).conversion == expected


def test_native_without_the_extension_is_refused_and_auto_falls_back(wal, store, monkeypatch):
    from junjo.features.spans import native
    from junjo.features.spans.converter import Converter, NativeUnavailable

    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_why", "the C extension is not built: no compiler")
    with pytest.raises(NativeUnavailable, match=r"'native' but python \(the C extension is not"):
        Indexer(wal, store, converter="native")
    fallback = Converter(choice="auto")
    assert not fallback.native
    assert fallback.description == "python (the C extension is not built: no compiler)"
    (unit,) = fallback.convert([WalBatch(1, 0, None, 3, simple_payload(3))], 0)
    assert unit[1] is not None and unit[1].native is None and len(unit[1].spans) == 3
