"""The indexer thread: WAL → convert → DuckDB, then prune the WAL.

Each step reads the batches after the indexed position, converts them and writes rows, the
quarantined batches and the new position in one DuckDB transaction, and only then prunes the
WAL. A crash before the commit re-reads the same batches; a crash between commit and prune
leaves batches that ``start()`` prunes. Nothing is lost, nothing is stored twice.

Failures are told apart by whose fault they are:

* a batch that does not decode is quarantined whole, a span that does not convert alone
  (kept in the WAL file's quarantine, counted), and the rest go on;
* a DuckDB error caused by the values (a constraint or conversion error, or memory it cannot
  get even after checkpoints) is narrowed down: the group's batches one by one, then the
  failing batch in halves down to single spans, and only the spans that still fail are
  quarantined;
* any other error (disk full, I/O, an invalidated database) is not the data's fault: the
  same write is retried with backoff until it succeeds or ``stop()`` is called, leaving the
  batches in the WAL. Ingestion's backpressure takes over if that lasts.

Throughput: storing is mostly DuckDB/SQLite C code, and converting is the native walker
(without the GIL) or Python (``converter.py``), so the two overlap: group N+1 is converted
while group N is written. After a burst, once idle, the store hands its cached memory back to
the OS.

Usage (the server's ingestion runtime)::

    indexer = Indexer(wal, store)
    indexer.start()
    ...  # each door calls indexer.wake() after wal.append()
    indexer.stop(timeout=10)   # before wal.close() and store.close()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import duckdb

from junjo.features.spans.convert import (
    DEFAULT_MAX_VALUE_BYTES,
    ConvertedBatch,
    repack_spans,
    span_errors,
)
from junjo.features.spans.converter import Converter, Unit
from junjo.features.spans.store import IndexerState, SpanStore, StaleWrite, WriteResult
from junjo.kernel.wal import SetAside, WalBatch, WriteAheadLog

log = logging.getLogger("junjo.indexer")

_READ_MAX_BATCHES = 512
# Bounds a group's memory: ~4k spans of 1 KB, ~17 MB once converted; two groups in flight.
# Measured with the native converter in one process (bench_ingest --converter native
# --group-mb 4,8,16, 15 s phases, 64 MB DuckDB limit): 4 MB groups indexed 21.7k spans/s at
# 56 CPU µs a span and peaked at 277 MiB at 10x overload; 8 MB 14.2k, 92 µs, 306 MiB; 16 MB
# 12.3k, 114 µs, 370 MiB. A write holds its rows twice in DuckDB's memory (staged, and in
# ``spans`` until the commit), so larger groups crowd the 64 MB limit and spill.
_READ_MAX_BYTES = 4 << 20
# After a burst, once idle this long, the store hands its cached memory back to the OS.
_RELEASE_AFTER_IDLE_S = 1.0
# A write costs DuckDB tens of ms (planning its statements, committing) whatever its size,
# so while the un-pruned backlog (the group being written included) is under a full group,
# writes start at most this often.
_MIN_WRITE_INTERVAL_S = 0.2
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 5.0

# DuckDB errors raised by the values being written; the rest are the environment's fault.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.ConversionException,
    duckdb.ConstraintException,
    duckdb.OutOfRangeException,
    duckdb.TypeMismatchException,
    duckdb.InvalidTypeException,
    TypeError,  # the appender refusing a Python value
    ValueError,
    OverflowError,
)
# After these DuckDB may have invalidated the database; the connection must be reopened.
_FATAL_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.FatalException,
    duckdb.InternalException,
    duckdb.ConnectionException,
)


@dataclasses.dataclass(frozen=True)
class IndexerStatus(IndexerState):
    """The committed state (indexed_seq, indexed_spans, duplicate_spans, quarantined_batches,
    quarantined_spans, last_indexed_at_ns) plus what only the running indexer knows."""

    # Received time of the oldest batch read from the WAL and not yet committed; None when
    # caught up. Lag = now - this.
    oldest_unindexed_received_at_ns: int | None = None
    running: bool = False
    last_error: str | None = None  # the error being retried, None once a write succeeds


class _Stopped(Exception):
    """stop() was called while a write was being retried; the batches stay in the WAL."""


class _Job(threading.Thread):
    """Runs one write in the background; ``wait()`` re-raises what it raised."""

    def __init__(self, fn: Callable[[list[Unit]], None], units: list[Unit]) -> None:
        super().__init__(name="junjo-indexer-write", daemon=True)
        self._fn, self._units = fn, units
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._fn(self._units)
        except BaseException as exc:
            self._error = exc
        finally:
            del self._units  # free the rows as soon as they are stored

    def wait(self) -> None:
        self.join()
        if self._error is not None:
            raise self._error


class Indexer:
    def __init__(
        self,
        wal: WriteAheadLog,
        store: SpanStore,
        *,
        batch_max_spans: int = 20000,
        idle_poll_seconds: float = 0.05,
        converter: str = "auto",
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self._wal = wal
        # Raises NativeUnavailable for converter="native" without the extension.
        self._converter = Converter(choice=converter, max_value_bytes=max_value_bytes)
        self._store = store
        self._batch_max_spans = batch_max_spans
        self._idle_poll = idle_poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stop_deadline = 0.0
        self._cond = threading.Condition()
        self._state: IndexerState = store.indexer_state()  # before the thread owns the store
        self._read_seq = self._state.indexed_seq  # last seq read (maybe not yet committed)
        # (last seq, first received_at_ns) of each group read and not yet committed.
        self._in_flight: deque[tuple[int, int]] = deque()
        self._idle_since: float | None = None
        self._last_write_started = 0.0
        self._wrote_since_release = False
        self._empty_reads = 0  # reads that found the WAL drained (flush() watches this)
        self._last_error: str | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("indexer already started")
        # Before the doors open: appends must not get numbers the store has indexed already.
        self._match_wal()
        self._thread = threading.Thread(target=self._run, name="junjo-indexer", daemon=True)
        self._thread.start()

    @property
    def conversion(self) -> str:
        """Which converter runs, and why python if so (the server logs it once it listens)."""
        return self._converter.description

    def stop(self, timeout: float = 10.0) -> bool:
        """Finish the current write, index what is already in the WAL while time allows,
        and exit. Returns False if the thread was still busy after ``timeout`` seconds."""
        thread = self._thread
        if thread is None:
            return True
        # Keep some of the budget for the write in progress when the drain deadline hits.
        self._stop_deadline = time.monotonic() + timeout * 0.8
        self._stop.set()
        self._wake.set()
        thread.join(timeout)
        return not thread.is_alive()

    def wake(self) -> None:
        """Called by the doors after an append, so a new batch is indexed at once."""
        self._wake.set()

    def status(self) -> IndexerStatus:
        with self._cond:
            return IndexerStatus(
                **dataclasses.asdict(self._state),
                oldest_unindexed_received_at_ns=(
                    self._in_flight[0][1] if self._in_flight else None
                ),
                running=self._thread is not None and self._thread.is_alive(),
                last_error=self._last_error,
            )

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every batch appended before this call is indexed (or quarantined)."""
        target = self._wal.last_seq()
        deadline = time.monotonic() + timeout
        with self._cond:
            # Two empty reads after this point also prove it: the second began after now.
            # (Covers a target the WAL never holds, e.g. seqs pruned under an older store.)
            caught_up_at = self._empty_reads + 2
        self.wake()
        with self._cond:
            while self._state.indexed_seq < target and self._empty_reads < caught_up_at:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    # -- the loop --------------------------------------------------------------------------
    # Two stages overlap: this thread reads and converts group N+1 (the native walker
    # releases the GIL; convert.py holds it) while a short-lived writer thread stores group N
    # (DuckDB and SQLite, mostly without the GIL). Groups are written strictly in order, at
    # most one at a time, so memory holds at most two groups and the committed position only
    # moves forward.

    def _run(self) -> None:
        # A crash between a DuckDB commit and the prune leaves indexed batches behind.
        self._prune(self._state.indexed_seq)
        writing: _Job | None = None
        try:
            while not self._stop.is_set() or time.monotonic() < self._stop_deadline:
                try:
                    writing = self._cycle(writing)
                except _Stopped:
                    raise
                except Exception:  # a bug: say so, keep indexing; the data stays in the WAL
                    log.exception("indexer error; retrying in %.0f s", _BACKOFF_MAX_S)
                    if writing is not None:
                        self._finish(writing)
                        writing = None
                    self._restart_reading()
                    self._stop.wait(_BACKOFF_MAX_S)
        except _Stopped:
            pass
        finally:
            if writing is not None:
                with contextlib.suppress(_Stopped):
                    self._finish(writing)
        log.debug("indexer stopped at WAL seq %d", self._state.indexed_seq)

    def _match_wal(self) -> None:
        """A WAL whose sequence is behind the store's position is a new file (the old one
        was deleted, or restored from elsewhere): its batches are numbered on from the
        store's position, so none is skipped and positions keep growing."""
        wal_last = self._wal.last_seq()
        indexed = self._state.indexed_seq
        if wal_last >= indexed:
            return
        log.warning(
            "the WAL ends at seq %d but the span store has indexed up to %d: the WAL was "
            "replaced; numbering its batches from %d",
            wal_last,
            indexed,
            indexed + 1,
        )
        self._wal.continue_after(indexed)

    def _cycle(self, writing: _Job | None) -> _Job | None:
        """Read the next group, wait for the previous write, start this group's write."""
        self._wake.clear()
        self._let_backlog_grow()
        units = self._read_group()
        if writing is not None and not self._finish(writing):
            return None  # the group just read may follow a wrong position: re-read
        if units:
            self._last_write_started = time.monotonic()
            return _Job(self._write_and_prune, units)
        if self._stop.is_set():
            raise _Stopped  # stopping, and the WAL is drained
        self._idle()
        return None

    def _let_backlog_grow(self) -> None:
        wait = self._last_write_started + _MIN_WRITE_INTERVAL_S - time.monotonic()
        if wait > 0 and self._wal.backlog()[1] < _READ_MAX_BYTES and not self._stop.is_set():
            self._stop.wait(wait)

    def _read_group(self) -> list[Unit]:
        """Read and convert the next group after the last one read (not yet committed)."""
        try:
            read = self._wal.read_after(
                self._read_seq, max_batches=_READ_MAX_BATCHES, max_bytes=_READ_MAX_BYTES
            )
        except Exception as exc:  # the WAL file is unreadable for now: try again later
            log.warning("reading the WAL failed: %s", exc)
            self._stop.wait(_BACKOFF_MAX_S)
            return []
        if not read:
            return []
        batches = _take_spans(read, self._batch_max_spans)
        self._read_seq = batches[-1].seq
        with self._cond:
            self._in_flight.append((batches[-1].seq, batches[0].received_at_ns))
        return self._converter.convert(batches, time.time_ns())

    def _finish(self, job: _Job) -> bool:
        """Wait for a write. False if reading must restart from the committed position."""
        try:
            job.wait()
            return True
        except _Stopped:
            raise
        except Exception as exc:
            if not isinstance(exc, StaleWrite):
                log.error("indexer write failed unexpectedly; retrying", exc_info=exc)
                self._stop.wait(_BACKOFF_MAX_S)
            self._restart_reading()
            return False

    def _restart_reading(self) -> None:
        with self._cond:
            self._read_seq = self._state.indexed_seq
            self._in_flight.clear()

    def _idle(self) -> None:
        """Nothing to read. After a burst, hand cached memory back; then wait for a wake."""
        with self._cond:
            self._empty_reads += 1
            self._cond.notify_all()
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        idle_for = now - self._idle_since
        if self._wrote_since_release and idle_for >= _RELEASE_AFTER_IDLE_S:
            self._wrote_since_release = False
            self._store.release_memory()
        self._wake.wait(self._idle_poll)

    def _write_and_prune(self, units: list[Unit]) -> None:
        self._write_group(units)
        self._prune(units[-1][0].seq)

    def _write_group(self, units: list[Unit]) -> None:
        """Write all units at once. If their values break the write, go batch by batch, and
        write a batch that still breaks it in parts, down to the single spans to set aside."""
        error = self._commit(_rows(units), units[-1][0].seq, _set_aside(units), patience=3)
        if error is None:
            return
        if len(units) == 1:
            self._write_in_parts(units[0])
            return
        for unit in units:
            if self._commit(_rows([unit]), unit[0].seq, _set_aside([unit])) is not None:
                self._write_in_parts(unit)

    def _write_in_parts(self, unit: Unit) -> None:
        """Halve the batch's spans until each part is stored or is one span to set aside.

        Parts leave the WAL position where it is; the last commit keeps the spans set aside
        (re-packed once, as one request) and moves the position past the batch, so a crash
        in between re-reads the batch (its stored parts are then skipped as re-sent) and
        sets nothing aside twice."""
        batch, converted, _ = unit
        set_aside = _set_aside([unit])
        parts = deque([converted] if converted is not None and converted.span_count else [])
        refused: dict[tuple[str, str], str] = {}
        while parts:
            part = parts.popleft()
            error = self._commit([part], None, [])
            if error is None:
                continue
            if part.span_count > 1:
                parts.extendleft(reversed(part.halves()))  # a native batch becomes rows
                continue
            refused[part.keys()[0]] = error
        if refused:
            error = span_errors(list(refused.values()))
            log.warning("quarantining spans of WAL batch %d: %s", batch.seq, error)
            payload, count = repack_spans(batch.payload, set(refused))
            set_aside.append(_quarantined(batch, "store: " + error, payload, count))
        if self._commit([], batch.seq, set_aside) is not None:
            raise AssertionError("a quarantine row cannot fail on its values")

    def _commit(
        self,
        converted: list[ConvertedBatch],
        last_seq: int | None,
        quarantined: list[SetAside],
        *,
        patience: int = 1,
    ) -> str | None:
        """One transaction, retried until it commits. Returns the error text if the data
        itself was refused; raises ``_Stopped`` if stopped while retrying.

        Out of memory is retried ``patience`` times, each after a checkpoint (rows not yet
        checkpointed hold memory); after that the values are blamed, and the caller splits
        the write: smaller parts may fit, and a span that alone does not is set aside. The
        first, whole-group write is patient; its parts, each smaller, try once more."""
        delay = _BACKOFF_FIRST_S
        out_of_memory = 0
        while True:
            try:
                # Kept first, where a crash cannot lose them (kept once if they come again).
                self._wal.quarantine(quarantined)
                result = self._store.write_batches(converted, last_seq, quarantined)
            except _DATA_ERRORS as exc:
                return f"{type(exc).__name__}: {exc}"
            except StaleWrite:
                # Our idea of the position is behind the store's: resync, then re-read.
                with self._cond:
                    self._state = self._store.indexer_state()
                raise
            except duckdb.OutOfMemoryException as exc:
                out_of_memory += 1
                if out_of_memory > patience:
                    return f"{type(exc).__name__}: {exc}"
                self._store.checkpoint()
                self._retry_later(exc, delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            except Exception as exc:
                self._retry_later(exc, delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            self._record(result)
            return None

    def _retry_later(self, exc: Exception, delay: float) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.warning("span store write failed (%s); retrying in %.1f s", message, delay)
        with self._cond:
            self._last_error = message
        if self._stop.wait(delay):
            raise _Stopped from exc
        if isinstance(exc, _FATAL_ERRORS):
            try:
                self._store.reconnect()
            except Exception as reopen_exc:  # still broken: the next attempt fails and waits
                log.warning("reopening the span store failed: %s", reopen_exc)

    def _record(self, result: WriteResult) -> None:
        with self._cond:
            self._state = result.state
            self._last_error = None
            while self._in_flight and self._in_flight[0][0] <= result.state.indexed_seq:
                self._in_flight.popleft()
            self._idle_since = None
            self._wrote_since_release = True
            self._cond.notify_all()

    def _prune(self, seq: int) -> None:
        if seq <= 0:
            return
        try:
            self._wal.prune_through(seq)
        except Exception as exc:  # harmless: the next prune covers these seqs too
            log.warning("pruning the WAL through %d failed: %s", seq, exc)


def _take_spans(batches: list[WalBatch], max_spans: int) -> list[WalBatch]:
    """The leading batches holding up to ``max_spans`` spans (always at least one batch)."""
    total = 0
    for count, batch in enumerate(batches):
        total += batch.span_count
        if total >= max_spans:
            return batches[: count + 1]
    return batches


def _rows(units: Sequence[Unit]) -> list[ConvertedBatch]:
    return [converted for _, converted, _ in units if converted is not None]


def _set_aside(units: Sequence[Unit]) -> list[SetAside]:
    """Quarantine rows for the batches that did not convert and the spans that did not."""
    out = []
    for batch, converted, error in units:
        if error:
            out.append(_quarantined(batch, error, batch.payload, batch.span_count))
        elif converted is not None and converted.failed is not None:
            failed = converted.failed
            error = "convert: " + failed.error
            out.append(_quarantined(batch, error, failed.payload, failed.span_count))
    return out


def _quarantined(batch: WalBatch, error: str, payload: bytes, span_count: int) -> SetAside:
    return SetAside(batch.seq, batch.received_at_ns, batch.api_key_id, span_count, error, payload)
