"""The DuckDB span store: bulk, idempotent writes of converted WAL batches.

One read-write ``SpanStore`` per file and process (DuckDB's rule); its connection belongs to
the indexer thread. Query code in the same process takes its own ``cursor()`` per thread; a
process without the server (CLI, no server running) uses ``open_readonly``.

Bulk path, measured on ~1 KB spans: DuckDB's appender (~30k rows/s for the 55-column append,
~20k with lookup and commit) beats one JSON document through ``from_json`` (~20k), a staged
CSV through ``read_csv`` (~13k, and it cannot tell NULL from ''), ``unnest`` of list
parameters (~18k) and ``executemany`` (~120). It needs neither pandas nor pyarrow, which
are not dependencies and would weigh on the RSS budget.

Idempotency: a batch's (trace_id, span_id) keys are deduplicated in Python, then looked up
among stored spans whose start time lies in the batch's start-time ranges (zonemap-pruned;
see ``schema.py`` for why there is no unique index). A re-sent span is skipped together with
its set_state rows. The WAL position, counters and quarantined batches are written in the
same transaction as the rows, so a crash at any point neither loses nor duplicates.
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from junjo.features.spans import schema, trace_summary
from junjo.features.spans.convert import (
    SPAN_COLUMNS,
    SPAN_ID,
    START_TIME_NS,
    STATE_CHANGE_COLUMNS,
    TRACE_ID,
    ConvertedBatch,
)

# DuckDB's buffer cache; RSS follows it about 1:1 at peak (measured 64 MB → 184 MiB peak,
# 128 MB → 226 MiB for the indexer process). The server's budget is 400 MiB peak.
DEFAULT_MEMORY_LIMIT = "128MB"
# The server's limit: all of DuckDB's buffer memory, web UI queries included. 64 MB kept the
# server under its 400 MiB budget at 10x overload with no loss of indexing speed, and queries
# within their bars (docs/indexing.md).
SERVER_MEMORY_LIMIT = "64MB"
# DuckDB checkpoints (compresses its WAL into the file) when the WAL passes this. Each
# checkpoint writes the rows since the last one as new row groups: ~12 µs a span, whatever
# the threshold, once vacuuming is off (below). 128 MB (~80k spans) checkpoints half as
# often as 64 MB: end to end, 8.1k vs 7.3k spans/s indexed, and export p99 at 2k spans/s
# 44 vs 57 ms (each checkpoint takes CPU from the request threads for ~1-2 s).
CHECKPOINT_THRESHOLD = "128MB"
# Vacuuming merges under-filled row groups at each checkpoint. Under a steady stream of
# writes it merges the growing last row group again and again whenever a checkpoint holds
# less than half a row group (~60k spans, so it depends on span size): measured at 64 MB,
# checkpoints then took 0.8-3.7 s, growing, instead of ~0.9 s, and the server spent
# ~15% more CPU per span (docs/indexing.md). So it is off, except in an idle-time
# checkpoint at most once an hour, which merges the small row groups that idle checkpoints
# after a trickle of writes leave behind.
_VACUUM_TASKS = 100
_VACUUM_EVERY_S = 3600.0
_CHECKPOINT_AT_IDLE_BYTES = 1 << 20
# release_memory() lowers the limit to this for a moment (measured: 256 → 138 MiB idle).
_RELEASE_LIMIT = "16MB"
# Start times further apart than this are looked up as separate ranges, so one span with a
# skewed clock (or a long-running parent) does not widen the lookup to the whole table.
_RANGE_GAP_NS = 10 * 60 * 1_000_000_000
_MAX_RANGES = 32


class SchemaOutdated(Exception):
    """A read-only open found a store that needs migrations (``junjo migrate``)."""


class StaleWrite(Exception):
    """``write_batches`` was asked to record a WAL position at or before the stored one."""


@dataclass(frozen=True)
class IndexerState:
    """The ``indexer_state`` row: where indexing stands, committed with the data."""

    indexed_seq: int
    indexed_spans: int
    duplicate_spans: int
    quarantined_batches: int
    quarantined_spans: int
    last_indexed_at_ns: int | None


@dataclass(frozen=True)
class QuarantinedBatch:
    """A WAL batch that could not be converted (or stored), kept whole for inspection."""

    seq: int
    received_at_ns: int | None
    api_key_id: str | None
    span_count: int
    error: str
    payload: bytes


@dataclass(frozen=True)
class WriteResult:
    inserted_spans: int
    duplicate_spans: int
    inserted_state_changes: int
    state: IndexerState


class SpanStore:
    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._conn = conn
        self._config: dict[str, Any] = {}
        self._vacuumed_at = float("-inf")

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
    ) -> SpanStore:
        """Open (creating if needed) read-write and apply pending migrations."""
        path = Path(path)
        config = _config(memory_limit, threads)
        conn = duckdb.connect(str(path), config=config)
        try:
            schema.migrate(conn)
            _create_scratch(conn)
        except BaseException:
            conn.close()
            raise
        store = cls(conn, path, read_only=False)
        store._config = config
        return store

    @classmethod
    def open_readonly(
        cls, path: Path | str, *, memory_limit: str = DEFAULT_MEMORY_LIMIT
    ) -> SpanStore:
        """Open for queries only. Fails while another process holds the file read-write."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no span store at {path}")
        conn = duckdb.connect(str(path), read_only=True, config=_config(memory_limit, None))
        try:
            if schema.pending(conn):
                raise SchemaOutdated(
                    f"the span store at {path} needs migrating: run `junjo migrate`"
                )
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, read_only=True)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one reader thread (close it when done)."""
        return self._conn.cursor()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SpanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reconnect(self) -> None:
        """Drop a connection DuckDB has invalidated (after a fatal I/O error) and reopen."""
        if self.read_only:
            raise RuntimeError("reconnect is for the read-write store")
        with contextlib.suppress(duckdb.Error):
            self._conn.close()
        self._conn = duckdb.connect(str(self.path), config=self._config)
        _create_scratch(self._conn)

    def release_memory(self) -> None:
        """Hand cached memory back to the OS after a burst of writes.

        DuckDB keeps blocks cached up to ``memory_limit`` and has no command to shrink; lowering
        the limit for a moment makes it evict (file blocks are re-read when needed). A query
        running on another cursor at that instant could see the low limit, so the indexer only
        calls this after being idle for a while."""
        conn = self._conn
        if _size(self.path.with_name(self.path.name + ".wal")) > _CHECKPOINT_AT_IDLE_BYTES:
            # Rows not yet checkpointed stay in memory (idle RSS 120 -> 118 MiB after 1,000
            # spans); the size test keeps a trickle of exports from checkpointing after each.
            vacuum = time.monotonic() - self._vacuumed_at >= _VACUUM_EVERY_S
            if self._checkpoint(vacuum=vacuum) and vacuum:
                self._vacuumed_at = time.monotonic()
        try:
            # Fails if DuckDB cannot evict that far right now: no harm, nothing changed.
            with contextlib.suppress(duckdb.Error):
                conn.execute(f"SET memory_limit = '{_RELEASE_LIMIT}'")
        finally:
            with contextlib.suppress(duckdb.Error):
                conn.execute(f"SET memory_limit = '{self._config['memory_limit']}'")
        _malloc_trim()

    def _checkpoint(self, *, vacuum: bool) -> bool:
        """True if it checkpointed. A failure is harmless: DuckDB checkpoints later."""
        conn = self._conn
        try:
            if vacuum:
                conn.execute(f"SET max_vacuum_tasks = {_VACUUM_TASKS}")
            conn.execute("CHECKPOINT")
            return True
        except duckdb.Error:
            return False
        finally:
            if vacuum:
                with contextlib.suppress(duckdb.Error):  # reconnect() resets it anyway
                    conn.execute("SET max_vacuum_tasks = 0")

    def rollback_quietly(self) -> None:
        """Leave any half-done transaction; used before a retry."""
        with contextlib.suppress(duckdb.Error):
            self._conn.execute("ROLLBACK")

    # -- reading ---------------------------------------------------------------------------

    def indexer_state(self) -> IndexerState:
        row = self._conn.execute(
            f"SELECT {_STATE_COLUMNS} FROM indexer_state WHERE id = 1"
        ).fetchone()
        assert row is not None, "indexer_state is seeded by migration 1"
        return IndexerState(*row)

    # -- writing ---------------------------------------------------------------------------

    def rewind(self, indexed_seq: int) -> IndexerState:
        """Move the recorded WAL position back, for a WAL that was replaced by a newer, empty
        one (its sequence numbers restart). Deduplication keeps re-read spans single."""
        row = self._conn.execute(
            f"UPDATE indexer_state SET indexed_seq = ? WHERE id = 1 RETURNING {_STATE_COLUMNS}",
            [indexed_seq],
        ).fetchone()
        assert row is not None
        return IndexerState(*row)

    def write_batches(
        self,
        batches: Sequence[ConvertedBatch],
        last_seq: int,
        quarantined: Sequence[QuarantinedBatch] = (),
    ) -> WriteResult:
        """Store converted batches and quarantined ones, and record ``last_seq`` as indexed,
        all in one transaction. Re-sent spans (already stored, or repeated in ``batches``)
        are skipped with their state changes."""
        conn = self._conn
        spans, states, candidates = _unique_rows(batches)
        now = time.time_ns()
        conn.execute("BEGIN TRANSACTION")
        try:
            stored = _stored_keys(conn, spans)
            if stored:
                spans, states = _without(stored, spans, states)
            _append(conn, "spans", SPAN_COLUMNS, spans)
            trace_summary.upsert(conn, trace_summary.summarize(spans, now))
            _append(conn, "state_changes", STATE_CHANGE_COLUMNS, states)
            _insert_quarantine(conn, quarantined, now)
            duplicates = candidates - len(spans)
            state = _advance(conn, last_seq, len(spans), duplicates, quarantined, now)
            conn.execute("COMMIT")
        except BaseException:
            self.rollback_quietly()
            raise
        return WriteResult(len(spans), duplicates, len(states), state)


def _config(memory_limit: str, threads: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "checkpoint_threshold": CHECKPOINT_THRESHOLD,
        "max_vacuum_tasks": 0,  # see _VACUUM_TASKS
    }
    if threads:
        config["threads"] = threads
    return config


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _malloc_trim() -> None:
    """glibc keeps freed heap pages (the converted rows of a burst); return them."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def _create_scratch(conn: duckdb.DuckDBPyConnection) -> None:
    # Connection-local and never persisted: the keys of the batch being written.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_keys ("
        " trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL)"
    )


_Row = tuple[Any, ...]
_STATE_COLUMNS = (
    "indexed_seq, indexed_spans, duplicate_spans, quarantined_batches, quarantined_spans,"
    " last_indexed_at_ns"
)


def _unique_rows(batches: Sequence[ConvertedBatch]) -> tuple[list[_Row], list[_Row], int]:
    """All span and state rows, keeping the first copy of a span repeated across batches.

    Returns (spans, state rows, number of span rows before deduplication)."""
    seen: set[tuple[str, str]] = set()
    spans: list[_Row] = []
    states: list[_Row] = []
    total = 0
    for batch in batches:
        total += len(batch.spans)
        kept = []
        for row in batch.spans:
            key = (row[TRACE_ID], row[SPAN_ID])
            if key in seen:
                kept.append(False)
                continue
            seen.add(key)
            kept.append(True)
            spans.append(row)
        states.extend(
            row
            for row, owner in zip(batch.state_changes, batch.state_owners, strict=True)
            if kept[owner]
        )
    return spans, states, total


def _time_ranges(starts: list[int]) -> list[tuple[int, int]]:
    """Cover ``starts`` with at most ``_MAX_RANGES`` ranges, split at the widest gaps."""
    points = sorted(set(starts))
    gaps = sorted(
        (points[i + 1] - points[i], i)
        for i in range(len(points) - 1)
        if points[i + 1] - points[i] > _RANGE_GAP_NS
    )
    cuts = sorted(i for _, i in gaps[-(_MAX_RANGES - 1) :]) if gaps else []
    ranges, lo = [], 0
    for cut in cuts:
        ranges.append((points[lo], points[cut]))
        lo = cut + 1
    ranges.append((points[lo], points[-1]))
    return ranges


def _stored_keys(conn: duckdb.DuckDBPyConnection, spans: list[_Row]) -> set[tuple[str, str]]:
    """The keys among ``spans`` that are already in the table."""
    if not spans:
        return set()
    conn.execute("DELETE FROM incoming_keys")
    _append(conn, "incoming_keys", ("trace_id", "span_id"), [r[:2] for r in spans])
    ranges = _time_ranges([row[START_TIME_NS] for row in spans])
    where = " OR ".join(["(s.start_time_ns BETWEEN ? AND ?)"] * len(ranges))
    rows = conn.execute(
        "SELECT k.trace_id, k.span_id FROM incoming_keys k JOIN spans s"
        f" ON s.trace_id = k.trace_id AND s.span_id = k.span_id WHERE {where}",
        [bound for pair in ranges for bound in pair],
    ).fetchall()
    return set(rows)


def _without(
    stored: set[tuple[str, str]], spans: list[_Row], states: list[_Row]
) -> tuple[list[_Row], list[_Row]]:
    spans = [row for row in spans if (row[TRACE_ID], row[SPAN_ID]) not in stored]
    states = [row for row in states if (row[0], row[1]) not in stored]
    return spans, states


def _append(
    conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: list[_Row]
) -> None:
    if not rows:
        return
    appender = conn.appender(table, columns=list(columns))
    appender.append_rows(rows)
    appender.flush()


def _insert_quarantine(
    conn: duckdb.DuckDBPyConnection, quarantined: Sequence[QuarantinedBatch], now: int
) -> None:
    # Rare and few: plain parameterised inserts are fine here.
    for q in quarantined:
        conn.execute(
            "INSERT INTO quarantine (seq, received_at_ns, api_key_id, span_count, error,"
            " quarantined_at_ns, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [q.seq, q.received_at_ns, q.api_key_id, q.span_count, q.error, now, q.payload],
        )


def _advance(
    conn: duckdb.DuckDBPyConnection,
    last_seq: int,
    inserted: int,
    duplicates: int,
    quarantined: Sequence[QuarantinedBatch],
    now: int,
) -> IndexerState:
    row = conn.execute(
        "UPDATE indexer_state SET indexed_seq = $seq,"
        " indexed_spans = indexed_spans + $inserted,"
        " duplicate_spans = duplicate_spans + $duplicates,"
        " quarantined_batches = quarantined_batches + $q_batches,"
        " quarantined_spans = quarantined_spans + $q_spans,"
        " last_indexed_at_ns = $now"
        " WHERE id = 1 AND indexed_seq < $seq"
        f" RETURNING {_STATE_COLUMNS}",
        {
            "seq": last_seq,
            "inserted": inserted,
            "duplicates": duplicates,
            "q_batches": len(quarantined),
            "q_spans": sum(q.span_count for q in quarantined),
            "now": now,
        },
    ).fetchone()
    if row is None:
        # Writing data for positions already indexed would store it twice.
        raise StaleWrite(f"WAL position {last_seq} is not after the indexed position")
    return IndexerState(*row)
