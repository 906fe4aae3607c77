"""The DuckDB span store: bulk, idempotent writes of converted WAL batches.

One read-write ``SpanStore`` per file and process (DuckDB's rule); its connection belongs to
the indexer thread. Query code in the same process takes its own ``cursor()`` per thread; a
process without the server (CLI, no server running) uses ``open_readonly``.

One write path for both converters: a write's rows are staged in the TEMP table
``incoming_spans``, row batches (``convert.py``) by DuckDB's appender and native batches
(``native.py``) by DuckDB's scan of their Arrow C stream; ``spans`` is filled from it in one
``INSERT ... SELECT`` and the trace summary computed from it in SQL (``trace_summary.py``).
It is emptied before the commit, so its rows live in the transaction's local storage only.

Bulk path, measured on ~1 KB spans: DuckDB's appender (~30k rows/s for the 55-column append,
~20k with lookup and commit) beats one JSON document through ``from_json`` (~20k), a staged
CSV through ``read_csv`` (~13k, and it cannot tell NULL from ''), ``unnest`` of list
parameters (~18k) and ``executemany`` (~120); the Arrow scan of a native batch costs about
two thirds of the appender's CPU (9.5 vs 14 µs a span; registering a batch alone ~1 ms).
Neither needs pandas nor pyarrow, which are not dependencies and would weigh on the RSS
budget.

Idempotency: a batch's (trace_id, span_id) keys (rows', or ``NativeSpans.keys()``) are
deduplicated in Python, and a native batch holding a repeated or stored span becomes rows to
be filtered (rare: a retried export); then the trace
directory (``directory.py``, a SQLite index beside this file) says which of the batch's
traces are already stored and between which WAL positions their spans were written, and
only those spans' keys are looked up, among stored spans in those ``wal_seq`` ranges
(zonemap-pruned: ``wal_seq`` only grows down the table). So a write costs what its own
traces cost, however large the table and however its timestamps are spread (a backfill of
old traces puts every span in one narrow window). See ``schema.py`` for why there is no
unique index. The WAL position and counters are written in the same transaction as the
rows, so a crash at any point neither loses nor duplicates; the directory is updated after
the commit and caught up from the spans when the store opens.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from junjo.features.spans import retention, trace_summary
from junjo.features.spans.bulk import append_rows
from junjo.features.spans.convert import ConvertedBatch
from junjo.features.spans.directory import SeqRange, TraceDirectory, range_clause
from junjo.features.spans.quarantine import move_legacy_entries
from junjo.features.spans.schema import SPAN_MIGRATIONS, SPAN_TABLE, create_table_sql
from junjo.kernel.migrations import migrate, status
from junjo.kernel.transaction import transaction
from junjo.kernel.wal import SetAside

if TYPE_CHECKING:
    from junjo.features.spans.native import NativeSpans

log = logging.getLogger("junjo.indexer")

# DuckDB's buffer cache; RSS follows it about 1:1 at peak (measured 64 MB → 184 MiB peak,
# 128 MB → 226 MiB for the indexer process). The server's budget is 400 MiB peak.
DEFAULT_MEMORY_LIMIT = "128MB"
# The server's limit: all of DuckDB's buffer memory, web UI queries included. 64 MB kept the
# server under its 400 MiB budget at 10x overload with no loss of indexing speed, and queries
# within their bars (docs/indexing.md).
SERVER_MEMORY_LIMIT = "64MB"
# DuckDB checkpoints (writes its WAL into the file) once the WAL passes a threshold, and until
# then keeps the rows written since the last checkpoint in memory (about 0.8x their WAL size,
# measured; spilled to a temp file at the limit). A threshold above the memory limit (128 MB
# with 64 MB, before) left no room for anything else: once a lookup had to read many of those
# rows, as the duplicate check of a backfill did, every write failed to pin a block, for good.
# So the threshold is half the memory limit. A checkpoint costs about the same per span
# whatever its size once vacuuming is off (below): 32 MB every ~23k spans took 0.15 s,
# 128 MB every ~83k spans 0.75 s (bench_ingest's spans, 64 MB limit).
_CHECKPOINT_SHARE_OF_MEMORY = 0.5
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
_DIRECTORY_SUFFIX = ".index.db"  # spans.duckdb -> spans.index.db
_DIRECTORY_CHUNK = 50_000  # traces a rebuild holds in memory at once


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
    truncated_values: int  # attribute values cut to the size limit (convert.py)


@dataclass(frozen=True)
class WriteResult:
    inserted_spans: int
    duplicate_spans: int
    state: IndexerState


class SpanStore:
    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        path: Path,
        *,
        directory: TraceDirectory | None = None,
    ) -> None:
        self.path = path
        self.read_only = directory is None
        self._conn = conn
        self._directory = directory
        self._directory_behind = directory is not None  # caught up before the first write
        self._config: dict[str, Any] = {}
        self._vacuumed_at = float("-inf")
        # Held by every write (the indexer's, retention's) and by a backup's copy: DuckDB
        # allows one writing process, and this is its one writer (see ``exclusive``).
        self._write_lock = threading.RLock()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
        wal_path: Path | None = None,
    ) -> SpanStore:
        """Open (creating if needed) read-write and apply pending migrations. Quarantine
        entries an older version kept in the span store move to the WAL file at
        ``wal_path`` first; a store that holds such entries is not migrated without it."""
        path = Path(path)
        config = _config(memory_limit, threads)
        conn = duckdb.connect(str(path), config=config)
        directory = None
        try:
            if wal_path is not None and (moved := move_legacy_entries(conn, wal_path)):
                log.info("moved %d quarantine entries from the span store to the WAL", moved)
            migrate(conn, SPAN_MIGRATIONS)
            _create_scratch(conn)
            directory = TraceDirectory(directory_path(path))
            store = cls(conn, path, directory=directory)
            store._config = config
            store.sync_directory()
        except BaseException:
            if directory is not None:
                directory.close()
            conn.close()
            raise
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
            if status(conn, SPAN_MIGRATIONS).pending:
                raise SchemaOutdated(
                    f"the span store at {path} needs migrating: run `junjo migrate`"
                )
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """No write of this store commits while this is held (the indexer waits): what a
        backup needs to copy the file, its WAL and the indexed position together."""
        with self._write_lock:
            yield

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one reader thread (close it when done)."""
        return self._conn.cursor()

    def close(self) -> None:
        if self._directory is not None:
            self._directory.close()
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
        with self._write_lock:  # one connection: not used by two threads at once
            self._release_memory()

    def _release_memory(self) -> None:
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

    def checkpoint(self) -> bool:
        """Write un-checkpointed rows into the file, which frees the memory they hold (after
        an out-of-memory error). True if it checkpointed."""
        return self._checkpoint(vacuum=False)

    def _checkpoint(self, *, vacuum: bool) -> bool:
        """True if it checkpointed. A failure is harmless: DuckDB checkpoints later."""
        with self._write_lock:  # a checkpoint rewrites the file: never under a backup's copy
            return self._checkpoint_locked(vacuum=vacuum)

    def _checkpoint_locked(self, *, vacuum: bool) -> bool:
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

    # -- reading ---------------------------------------------------------------------------

    def indexer_state(self) -> IndexerState:
        with self._write_lock:
            row = self._conn.execute(
                f"SELECT {_STATE_COLUMNS} FROM indexer_state WHERE id = 1"
            ).fetchone()
        assert row is not None, "indexer_state is seeded by migration 1"
        return IndexerState(*row)

    # -- writing ---------------------------------------------------------------------------

    def write_batches(
        self,
        batches: Sequence[ConvertedBatch],
        last_seq: int | None,
        quarantined: Sequence[SetAside] = (),
    ) -> WriteResult:
        """Store converted batches, count the ``quarantined`` ones (the caller has kept them
        in the WAL's quarantine), and record ``last_seq`` as indexed, all in one
        transaction. Re-sent spans (already stored, or repeated in ``batches``) are skipped.

        ``last_seq`` None stores part of a batch and leaves the position where it is: a
        crash before the batch's last part re-reads the whole batch, and the parts already
        stored are then skipped as re-sent."""
        with self._write_lock:
            return self._write_batches(batches, last_seq, quarantined)

    def _write_batches(
        self,
        batches: Sequence[ConvertedBatch],
        last_seq: int | None,
        quarantined: Sequence[SetAside],
    ) -> WriteResult:
        conn = self._conn
        directory = self._writable_directory()
        if self._directory_behind:
            self.sync_directory()
        parts, candidates = _unique_parts(batches)
        known = directory.lookup({key[0] for part in parts for key in part.keys})
        now = time.time_ns()
        with transaction(conn, "BEGIN TRANSACTION"):
            stored = _stored_keys(conn, parts, known)
            if stored:
                parts = [part.without(stored) for part in parts]
            ranges = _seq_ranges(parts)
            _stage(conn, parts)
            conn.execute(f"INSERT INTO spans SELECT * FROM {_STAGED}")
            first_seqs = {t: known[t][0] for t in ranges if t in known}
            trace_summary.write(conn, _STAGED, first_seqs, now)
            conn.execute(f"DELETE FROM {_STAGED}")  # never committed: rolled back with it
            inserted = sum(len(part.keys) for part in parts)
            duplicates = candidates - inserted
            truncated = sum(batch.truncated_values for batch in batches)
            counts = _Counts(inserted, duplicates, truncated, quarantined)
            state = _advance(conn, last_seq, counts, now)
        self._record_in_directory(ranges, state.indexed_seq)
        return WriteResult(inserted, duplicates, state)

    # -- retention -----------------------------------------------------------------------

    def oldest_traces(
        self,
        *,
        ended_before_ns: int | None,
        quiet_before_ns: int,
        limit: int,
        after: tuple[int, str] | None = None,
    ) -> list[retention.Doomed]:
        """The oldest traces that ended before ``ended_before_ns`` and are quiet since
        ``quiet_before_ns`` (``retention.oldest``), for a dry run or ``delete_traces``."""
        cursor = self._conn.cursor()
        try:
            return retention.oldest(
                cursor,
                ended_before_ns=ended_before_ns,
                quiet_before_ns=quiet_before_ns,
                limit=limit,
                after=after,
            )
        finally:
            cursor.close()

    def delete_traces(self, doomed: Sequence[retention.Doomed]) -> int:
        """Delete whole traces (spans, summary, directory rows); returns spans deleted."""
        directory = self._writable_directory()
        deleted = 0
        for start in range(0, len(doomed), retention.CHUNK_TRACES):
            chunk = doomed[start : start + retention.CHUNK_TRACES]
            with self._write_lock:
                deleted += retention.delete(self._conn, chunk)
                try:
                    directory.forget([d.trace_id for d in chunk])
                except Exception as exc:  # harmless: a later span of it looks for a row
                    log.warning("removing deleted traces from the directory failed: %s", exc)
        return deleted

    def reclaim(self) -> bool:
        """Checkpoint after deletions: the blocks of row groups left with no rows become
        free blocks, reused before the file grows. Without vacuum: merging the partly
        deleted row groups writes their rows anew first, which grew the file by a third in
        scripts/bench_maintenance.py (the hourly idle checkpoint vacuums later, when the
        disk is not what a deletion was for). True if it checkpointed."""
        return self._checkpoint(vacuum=False)

    def size(self) -> retention.StoreSize:
        wal = self.path.with_name(self.path.name + ".wal")
        cursor = self._conn.cursor()
        try:
            return retention.size(cursor, _size(self.path), _size(wal))
        finally:
            cursor.close()

    # -- the trace directory -------------------------------------------------------------

    def sync_directory(self) -> None:
        """Bring the trace directory up to date from the spans.

        Spans past the directory's position are summed up per trace, cheaply, since zonemaps
        on ``wal_seq`` skip the rest: those of a crash between a DuckDB commit and the
        directory's own, and those of a batch written in parts (stored past the position,
        which only moves with the batch's last part). A directory that is new, or ahead of
        the store (the store was replaced by an older copy), is rebuilt from all spans, in
        chunks, so even a large store is rebuilt in little memory."""
        directory = self._writable_directory()
        indexed = self.indexer_state().indexed_seq
        through = directory.through_seq
        if through > indexed:
            log.warning("the trace directory is ahead of the span store; rebuilding it")
            directory.reset()
            through = 0
        started, traces = time.monotonic(), 0
        where = "WHERE wal_seq > ?" if through else ""
        cursor = self._conn.cursor()
        try:
            cursor.execute(
                "SELECT trace_id, min(coalesce(wal_seq, 0)), max(coalesce(wal_seq, 0))"
                f" FROM spans {where} GROUP BY trace_id",
                [through] if through else [],
            )
            while rows := cursor.fetchmany(_DIRECTORY_CHUNK):
                directory.record(rows, None)
                traces += len(rows)
        finally:
            cursor.close()
        directory.record([], indexed)
        if through == 0 and traces:
            elapsed = time.monotonic() - started
            log.info("trace directory rebuilt: %d traces in %.1f s", traces, elapsed)
        self._directory_behind = False

    def _writable_directory(self) -> TraceDirectory:
        if self._directory is None:
            raise RuntimeError("this span store was opened read-only")
        return self._directory

    def _record_in_directory(self, ranges: dict[str, SeqRange], through_seq: int) -> None:
        try:
            self._writable_directory().record(
                ((trace_id, lo, hi) for trace_id, (lo, hi) in ranges.items()), through_seq
            )
        except Exception as exc:  # the rows are committed; the next write catches up first
            log.warning("updating the trace directory failed (%s); catching up later", exc)
            self._directory_behind = True


def directory_path(store_path: Path) -> Path:
    """Where the trace directory of the span store at ``store_path`` lives."""
    return store_path.with_suffix(_DIRECTORY_SUFFIX)


def _config(memory_limit: str, threads: int | None) -> dict[str, Any]:
    threshold_mb = int(_megabytes(memory_limit) * _CHECKPOINT_SHARE_OF_MEMORY)
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "checkpoint_threshold": f"{threshold_mb}MB",
        "max_vacuum_tasks": 0,  # see _VACUUM_TASKS
    }
    if threads:
        config["threads"] = threads
    return config


def _megabytes(limit: str) -> float:
    """'64MB' -> 64, '1GB' -> 1000 (DuckDB's decimal units; 'MiB' and 'GiB' are accepted)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG])(i?)B\s*", limit, re.IGNORECASE)
    if match is None:
        raise ValueError(f"memory limit {limit!r}: expected a size such as '64MB'")
    number, unit, binary = float(match[1]), match[2].upper(), bool(match[3])
    scale = (1024 if binary else 1000) ** ("KMG".index(unit) - 1)
    return float(number * scale * (1.048576 if binary else 1))


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
    # Connection-local and never persisted: the keys of the batch being written, and its
    # rows (filled and emptied inside the write's transaction, so never committed).
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_keys ("
        " trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL)"
    )
    staged = create_table_sql(_STAGED, SPAN_TABLE)
    conn.execute(staged.replace("CREATE TABLE", "CREATE TEMP TABLE IF NOT EXISTS", 1))
    conn.execute(retention.SCRATCH)


_Row = tuple[Any, ...]
_STATE_COLUMNS = (
    "indexed_seq, indexed_spans, duplicate_spans, quarantined_batches, quarantined_spans,"
    " last_indexed_at_ns, truncated_values"
)


_Key = tuple[str, str]
# The write's rows, staged: what ``spans`` and the trace summary are filled from, one way
# for rows (the appender) and native batches (DuckDB scans their Arrow C stream).
_STAGED = "incoming_spans"
_ARROW_VIEW = "incoming_native"


@dataclass(frozen=True)
class _Part:
    """The spans of one batch to store: rows, or a native batch's columns; and their keys."""

    seq: int
    keys: list[_Key]
    rows: list[_Row]
    native: NativeSpans | None = None

    @classmethod
    def of(cls, batch: ConvertedBatch) -> _Part:
        return cls(batch.seq, batch.keys(), batch.spans, batch.native)

    def materialized(self) -> list[_Row]:
        return self.native.to_rows() if self.native is not None else self.rows

    def without(self, drop: set[_Key]) -> _Part:
        """This part minus the spans of ``drop`` (a native batch becomes rows: rare)."""
        if drop.isdisjoint(self.keys):
            return self
        pairs = zip(self.keys, self.materialized(), strict=True)
        kept = [(key, row) for key, row in pairs if key not in drop]
        return _Part(self.seq, [key for key, _ in kept], [row for _, row in kept])


def _unique_parts(batches: Sequence[ConvertedBatch]) -> tuple[list[_Part], int]:
    """The batches' spans, keeping the first copy of a span repeated across batches (or
    within one); and the number of spans before deduplication."""
    seen: set[_Key] = set()
    parts: list[_Part] = []
    total = 0
    for batch in batches:
        part = _Part.of(batch)
        total += len(part.keys)
        fresh = set(part.keys)
        if len(fresh) == len(part.keys) and seen.isdisjoint(fresh):
            seen |= fresh  # the usual case: nothing to filter, a native batch stays columns
            parts.append(part)
            continue
        keys, rows = [], []
        for key, row in zip(part.keys, part.materialized(), strict=True):
            if key not in seen:
                seen.add(key)
                keys.append(key)
                rows.append(row)
        parts.append(_Part(part.seq, keys, rows))
    return parts, total


def _seq_ranges(parts: Sequence[_Part]) -> dict[str, SeqRange]:
    """The first and last WAL position of each trace's spans in ``parts`` (each part's
    spans carry its batch's position), for the trace directory."""
    ranges: dict[str, SeqRange] = {}
    for part in parts:
        seq = part.seq
        for trace_id in {key[0] for key in part.keys}:
            known = ranges.get(trace_id)
            ranges[trace_id] = (
                (seq, seq) if known is None else (min(known[0], seq), max(known[1], seq))
            )
    return ranges


def _stage(conn: duckdb.DuckDBPyConnection, parts: Sequence[_Part]) -> None:
    """Fill the staging table with the parts' rows in order (the trace summary breaks ties
    by it): consecutive row parts in one append, each native batch in one scan."""
    rows: list[_Row] = []
    for part in parts:
        if part.native is None:
            rows += part.rows
            continue
        append_rows(conn, _STAGED, rows)
        rows = []
        # Not unregistered if the INSERT fails: DuckDB then refuses every statement of the
        # aborted transaction, unregister too, whose error would hide the real one (an
        # out-of-memory error must reach the indexer as such); the caller's ROLLBACK drops
        # the view with the rest.
        conn.register(_ARROW_VIEW, part.native)
        conn.execute(f"INSERT INTO {_STAGED} SELECT * FROM {_ARROW_VIEW}")
        conn.unregister(_ARROW_VIEW)
    append_rows(conn, _STAGED, rows)


def _stored_keys(
    conn: duckdb.DuckDBPyConnection, parts: Sequence[_Part], known: dict[str, SeqRange]
) -> set[_Key]:
    """The keys among ``parts`` already in the table. Only spans of ``known`` traces can
    be, and only between their traces' first and last WAL positions."""
    candidates = [key for part in parts for key in part.keys if key[0] in known]
    if not candidates:
        return set()
    conn.execute("DELETE FROM incoming_keys")
    append_rows(conn, "incoming_keys", candidates, ("trace_id", "span_id"))
    where, params = range_clause("s.wal_seq", (known[t] for t in {c[0] for c in candidates}))
    rows = conn.execute(
        "SELECT k.trace_id, k.span_id FROM incoming_keys k JOIN spans s"
        f" ON s.trace_id = k.trace_id AND s.span_id = k.span_id WHERE {where}",
        params,
    ).fetchall()
    return set(rows)


@dataclass(frozen=True)
class _Counts:
    inserted: int
    duplicates: int
    truncated: int
    quarantined: Sequence[SetAside]


def _advance(
    conn: duckdb.DuckDBPyConnection, last_seq: int | None, counts: _Counts, now: int
) -> IndexerState:
    row = conn.execute(
        "UPDATE indexer_state SET indexed_seq = coalesce($seq, indexed_seq),"
        " indexed_spans = indexed_spans + $inserted,"
        " duplicate_spans = duplicate_spans + $duplicates,"
        " quarantined_batches = quarantined_batches + $q_batches,"
        " quarantined_spans = quarantined_spans + $q_spans,"
        " truncated_values = truncated_values + $truncated,"
        " last_indexed_at_ns = $now"
        " WHERE id = 1 AND ($seq IS NULL OR indexed_seq < $seq)"
        f" RETURNING {_STATE_COLUMNS}",
        {
            "seq": last_seq,
            "inserted": counts.inserted,
            "duplicates": counts.duplicates,
            "q_batches": len(counts.quarantined),
            "q_spans": sum(q.span_count for q in counts.quarantined),
            "truncated": counts.truncated,
            "now": now,
        },
    ).fetchone()
    if row is None:
        # Writing data for positions already indexed would store it twice.
        raise StaleWrite(f"WAL position {last_seq} is not after the indexed position")
    return IndexerState(*row)
