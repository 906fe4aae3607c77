"""The write-ahead log: raw, validated OTLP requests, durable before the client gets its ack.

A SQLite file of its own (``wal.db``) in WAL journal mode with ``synchronous=FULL``, so a
committed append survives ``kill -9`` and power loss. Appends from many request threads are
group-committed by one writer thread: each caller blocks until the transaction holding its
batch has been fsynced, and one fsync serves every batch that arrived meanwhile.

The indexer reads batches in ``seq`` order and prunes them once DuckDB has committed them.
Prunes go through the same writer thread and ride along in the next group commit: a second
writing connection would contend for SQLite's write lock, and a waiting writer sleeps in
SQLite's busy handler, which shows up directly in export latency.

Checkpoints (copying SQLite's own WAL into the database file) run on a background thread,
not inside the commit that happens to cross SQLite's auto-checkpoint threshold: with
half-megabyte batches that threshold is crossed every few commits, and each checkpoint
writes and fsyncs megabytes in the middle of an export's ack.

Counters (accepted totals, backlog) are mirrored in memory, so ingestion can check the
backlog on every request and the status route can read them without touching the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junjo.kernel.migrations import Migration, Migrations, migrate
from junjo.kernel.transaction import transaction

log = logging.getLogger("junjo.wal")

# Version 1 is the schema files had before the WAL was versioned, as IF NOT EXISTS, so it
# completes such a file (one from before the quarantine moved here has no quarantine table)
# and records the version.
_V1 = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ns INTEGER NOT NULL,
    api_key_id TEXT,
    span_count INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    accepted_batches INTEGER NOT NULL,
    accepted_spans INTEGER NOT NULL,
    pending_bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0);
-- What the indexer set aside (see features/spans/quarantine.py): kept here, not in DuckDB,
-- because a span set aside for being too big for DuckDB's memory would not fit there either.
-- (seq, digest) is unique: spans set aside again after a crash before the span store's
-- commit are kept once.
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,                 -- the WAL batch they came from
    received_at_ns INTEGER,
    api_key_id TEXT,
    span_count INTEGER NOT NULL,          -- spans in payload
    error TEXT NOT NULL,
    quarantined_at_ns INTEGER NOT NULL,
    digest BLOB NOT NULL,                 -- sha256 of payload
    payload BLOB NOT NULL,                -- an ExportTraceServiceRequest, kept for replay
    UNIQUE (seq, digest)
);
"""
WAL_MIGRATIONS = Migrations(
    "the write-ahead log", (Migration(1, "batches, totals and quarantine", _V1),)
)
# What listings show of a quarantine entry (never the payload).
QUARANTINE_FIELDS = (
    "id", "seq", "received_at_ns", "api_key_id", "span_count", "error", "quarantined_at_ns"
)  # fmt: skip

_MAX_GROUP = 256  # requests per group commit
_CHECKPOINT_INTERVAL_S = 0.5
_CHECKPOINT_BYTES = 8 << 20  # appended since the last checkpoint: wake the checkpointer early
# 64 KiB pages: a half-megabyte batch is 8 pages instead of 128 (for new files only).
_PAGE_SIZE = 65536


@dataclass(frozen=True)
class WalBatch:
    seq: int
    received_at_ns: int
    api_key_id: str | None
    span_count: int
    payload: bytes  # a serialized ExportTraceServiceRequest


@dataclass(frozen=True)
class WalTotals:
    accepted_batches: int
    accepted_spans: int
    pending_batches: int
    pending_bytes: int  # payload bytes not yet pruned (the backlog)


class WalClosed(Exception):
    """The log is shutting down; the caller should answer 'retry later'."""


@dataclass(slots=True)
class _Append:
    payload: bytes
    span_count: int
    api_key_id: str | None
    done: Future[int]


@dataclass(slots=True)
class _Prune:
    through_seq: int
    done: Future[int]


@dataclass(slots=True)
class _Renumber:
    after_seq: int
    done: Future[int]


@dataclass(frozen=True)
class SetAside:
    """Spans the indexer could not store (or a batch it could not decode)."""

    seq: int
    received_at_ns: int | None
    api_key_id: str | None
    span_count: int
    error: str
    payload: bytes


@dataclass(slots=True)
class _Quarantine:
    entries: Sequence[SetAside]
    done: Future[int]


@dataclass(slots=True)
class _Replay:
    ids: Sequence[int] | None  # None: every entry
    done: Future[int]
    replayed: list[tuple[int, int]] = field(default_factory=list)  # (id, spans)


_Request = _Append | _Prune | _Renumber | _Quarantine | _Replay


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the pragmas every one needs (no migration)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class WriteAheadLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = connect(path)
        migrate(self._writer, WAL_MIGRATIONS)
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._reader = connect(path)
        self._checkpointer = connect(path)
        self._checkpoint_due = threading.Event()
        self._unchecked_bytes = 0
        self._reader_lock = threading.Lock()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closed = False
        # Guards the closed flag together with queue.put (so no request can slip in behind
        # the shutdown marker and wait forever for a writer that has gone) and the counters.
        self._state_lock = threading.Lock()
        self._totals = self._read_totals()
        self._last_seq = self._read_last_seq()
        self._thread = threading.Thread(target=self._write_loop, name="junjo-wal", daemon=True)
        self._thread.start()
        self._checkpoint_thread = threading.Thread(
            target=self._checkpoint_loop, name="junjo-wal-checkpoint", daemon=True
        )
        self._checkpoint_thread.start()

    def _read_totals(self) -> WalTotals:
        batches, spans, pending_bytes = self._writer.execute(
            "SELECT accepted_batches, accepted_spans, pending_bytes FROM totals"
        ).fetchone()
        (pending,) = self._writer.execute("SELECT count(*) FROM batches").fetchone()
        return WalTotals(batches, spans, pending, pending_bytes)

    def _read_last_seq(self) -> int:
        return _sequence(self._writer)

    # -- writing ---------------------------------------------------------------------------

    def append(self, payload: bytes, span_count: int, api_key_id: str | None = None) -> int:
        """Durably store one batch and return its sequence number."""
        return self._submit(_Append(payload, span_count, api_key_id, Future()))

    def prune_through(self, seq: int) -> int:
        """Delete batches up to and including ``seq``; returns how many were removed."""
        return self._submit(_Prune(seq, Future()))

    def continue_after(self, seq: int) -> int:
        """Number batches after ``seq`` from now on, moving those the log holds there (in
        their order); returns how many moved. For a log that is behind the span store (a
        new file, or one restored from elsewhere): WAL positions then only ever grow, which
        the span store's lookups by position rely on."""
        return self._submit(_Renumber(seq, Future()))

    def quarantine(self, entries: Sequence[SetAside]) -> None:
        """Durably keep ``entries`` aside (an entry already kept is not added again)."""
        if entries:
            self._submit(_Quarantine(entries, Future()))

    def replay(self, ids: Sequence[int] | None) -> list[tuple[int, int]]:
        """Move quarantine entries (None: all) back into the log as new batches, in one
        transaction; returns the (id, span count) of each entry moved."""
        request = _Replay(ids, Future())
        self._submit(request)
        return request.replayed

    def quarantined_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` are quarantine entries."""
        with self._reader_lock:
            rows = self._reader.execute(
                f"SELECT id FROM quarantine WHERE id IN ({','.join('?' * len(ids))})", tuple(ids)
            ).fetchall()
        return {row[0] for row in rows}

    def quarantined(self, limit: int) -> tuple[list[dict[str, Any]], int, int]:
        """The newest ``limit`` entries, and how many entries and spans are kept in all."""
        with self._reader_lock:
            entries, spans = self._reader.execute(
                "SELECT count(*), coalesce(sum(span_count), 0) FROM quarantine"
            ).fetchone()
            rows = self._reader.execute(
                f"SELECT {', '.join(QUARANTINE_FIELDS)} FROM quarantine ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(zip(QUARANTINE_FIELDS, row, strict=True)) for row in rows], entries, spans

    def _submit(self, request: _Request) -> int:
        with self._state_lock:
            if self._closed:
                raise WalClosed("write-ahead log is closed")
            self._queue.put(request)
        return request.done.result()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < _MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._commit(group)
                    return
                group.append(nxt)
            self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        now = time.time_ns()
        conn = self._writer
        results: list[int] = []
        tally = _Tally()
        try:
            with transaction(conn, "BEGIN IMMEDIATE"):
                for request in group:
                    results.append(self._apply(conn, request, now, tally))
                conn.execute(
                    "UPDATE totals SET accepted_batches = accepted_batches + ?,"
                    " accepted_spans = accepted_spans + ?,"
                    " pending_bytes = max(0, pending_bytes + ?)",
                    (tally.accepted, tally.accepted_spans, tally.added_bytes - tally.pruned_bytes),
                )
        except Exception as exc:  # disk full, I/O error: every waiter learns it
            for request in group:
                request.done.set_exception(exc)
            return
        with self._state_lock:
            old = self._totals
            self._totals = WalTotals(
                old.accepted_batches + tally.accepted,
                old.accepted_spans + tally.accepted_spans,
                max(0, old.pending_batches + tally.added_batches - tally.pruned_batches),
                max(0, old.pending_bytes + tally.added_bytes - tally.pruned_bytes),
            )
            self._unchecked_bytes += tally.added_bytes
            if self._unchecked_bytes >= _CHECKPOINT_BYTES:
                self._checkpoint_due.set()
            if tally.numbered:
                self._last_seq = _sequence(conn)
        for request, result in zip(group, results, strict=True):
            request.done.set_result(result)

    @staticmethod
    def _apply(conn: sqlite3.Connection, request: _Request, now: int, tally: _Tally) -> int:
        """One request inside the group's transaction; its result for the caller."""
        if isinstance(request, _Append):
            cur = conn.execute(
                "INSERT INTO batches (received_at_ns, api_key_id, span_count, payload)"
                " VALUES (?, ?, ?, ?)",
                (now, request.api_key_id, request.span_count, request.payload),
            )
            tally.accepted += 1
            tally.accepted_spans += request.span_count
            tally.added(1, len(request.payload))
            return cur.lastrowid or 0
        if isinstance(request, _Prune):
            count, size = _delete_through(conn, request.through_seq)
            tally.pruned_batches += count
            tally.pruned_bytes += size
            return count
        if isinstance(request, _Renumber):
            tally.numbered = True
            return _renumber_after(conn, request.after_seq)
        if isinstance(request, _Quarantine):
            return _insert_quarantine(conn, request.entries, now)
        request.replayed, size = _move_back(conn, request.ids, now)
        tally.added(len(request.replayed), size)
        return len(request.replayed)

    def _checkpoint_loop(self) -> None:
        while True:
            self._checkpoint_due.wait(_CHECKPOINT_INTERVAL_S)
            self._checkpoint_due.clear()
            with self._state_lock:
                if self._closed:
                    return
                self._unchecked_bytes = 0
            try:
                # PASSIVE never blocks the writer or readers; what it cannot copy now waits.
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # retried on the next round; the data is safe
                log.warning("WAL checkpoint failed: %s", exc)

    # -- reading (the indexer's side) ------------------------------------------------------

    def read_after(
        self, seq: int, max_batches: int = 512, max_bytes: int = 32 << 20
    ) -> list[WalBatch]:
        """Batches with a sequence number above ``seq``, oldest first, within the limits."""
        out: list[WalBatch] = []
        size = 0
        with self._reader_lock:
            rows = self._reader.execute(
                "SELECT seq, received_at_ns, api_key_id, span_count, payload FROM batches"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, max_batches),
            )
            for row in rows:
                out.append(WalBatch(*row))
                size += len(row[4])
                if size >= max_bytes:
                    break
        return out

    def totals(self) -> WalTotals:
        """Accepted totals since the file was created, and the backlog; no I/O."""
        with self._state_lock:
            return self._totals

    def backlog(self) -> tuple[int, int]:
        """(batches, payload bytes) appended but not yet pruned; no I/O."""
        totals = self.totals()
        return totals.pending_batches, totals.pending_bytes

    def last_seq(self) -> int:
        """The highest sequence number ever committed (pruned or not)."""
        with self._state_lock:
            return self._last_seq

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Finish every queued append, then close the files."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        self._checkpoint_due.set()
        self._checkpoint_thread.join()
        with contextlib.suppress(sqlite3.Error):  # leave a small file behind
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._writer.close()
        self._checkpointer.close()
        with self._reader_lock:
            self._reader.close()


@dataclass
class _Tally:
    """What one group commit changed, for the counters."""

    accepted: int = 0
    accepted_spans: int = 0
    added_batches: int = 0
    added_bytes: int = 0
    pruned_batches: int = 0
    pruned_bytes: int = 0
    numbered: bool = False  # the sequence moved: re-read it

    def added(self, batches: int, size: int) -> None:
        self.added_batches += batches
        self.added_bytes += size
        self.numbered = self.numbered or batches > 0


def _insert_quarantine(conn: sqlite3.Connection, entries: Sequence[SetAside], now: int) -> int:
    rows = [
        (e.seq, e.received_at_ns, e.api_key_id, e.span_count, e.error, now,
         hashlib.sha256(e.payload).digest(), e.payload)
        for e in entries
    ]  # fmt: skip
    cursor = conn.executemany(
        "INSERT OR IGNORE INTO quarantine (seq, received_at_ns, api_key_id, span_count, error,"
        " quarantined_at_ns, digest, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return cursor.rowcount


def keep_aside(path: Path, entries: Sequence[SetAside]) -> int:
    """Keep ``entries`` in the quarantine of the WAL file at ``path`` while no
    ``WriteAheadLog`` has it open (what an older version kept in the span store moves here
    before the server opens the log); an entry already kept is not added again. Returns
    how many were added."""
    conn = connect(path)
    try:
        migrate(conn, WAL_MIGRATIONS)
        with transaction(conn, "BEGIN IMMEDIATE"):
            return _insert_quarantine(conn, entries, time.time_ns())
    finally:
        conn.close()


def _move_back(
    conn: sqlite3.Connection, ids: Sequence[int] | None, now: int
) -> tuple[list[tuple[int, int]], int]:
    """Quarantine entries -> new batches; returns [(id, span count)] and the bytes moved."""
    where, params = ("", ()) if ids is None else (
        f"WHERE id IN ({','.join('?' * len(ids))})", tuple(ids)
    )  # fmt: skip
    rows = conn.execute(
        f"SELECT id, api_key_id, span_count, length(payload) FROM quarantine {where} ORDER BY id",
        params,
    ).fetchall()
    for entry_id, *_ in rows:
        conn.execute(
            "INSERT INTO batches (received_at_ns, api_key_id, span_count, payload)"
            " SELECT ?, api_key_id, span_count, payload FROM quarantine WHERE id = ?",
            (now, entry_id),
        )
        conn.execute("DELETE FROM quarantine WHERE id = ?", (entry_id,))
    return [(row[0], row[2]) for row in rows], sum(row[3] for row in rows)


def _sequence(conn: sqlite3.Connection) -> int:
    """The last sequence number AUTOINCREMENT handed out (0 for a new file)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'batches'").fetchone()
    return row[0] if row else 0


def _renumber_after(conn: sqlite3.Connection, after: int) -> int:
    last = _sequence(conn)
    if last >= after:
        return 0
    # Every old number is <= last < after, so old + after never meets an old one.
    moved = conn.execute("UPDATE batches SET seq = seq + ?", (after,)).rowcount
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'batches'")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('batches', ?)", (after + last,))
    return moved


def _delete_through(conn: sqlite3.Connection, seq: int) -> tuple[int, int]:
    count, size = conn.execute(
        "SELECT count(*), coalesce(sum(length(payload)), 0) FROM batches WHERE seq <= ?",
        (seq,),
    ).fetchone()
    if count:
        conn.execute("DELETE FROM batches WHERE seq <= ?", (seq,))
    return count, size
