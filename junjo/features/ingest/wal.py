"""The write-ahead log: raw, validated OTLP requests, durable before the client gets its ack.

A SQLite file of its own (``wal.db``) in WAL journal mode with ``synchronous=FULL``, so a
committed append survives ``kill -9`` and power loss. Appends from many request threads are
group-committed by one writer thread: each caller blocks until the transaction holding its
batch has been fsynced, and one fsync serves every batch that arrived meanwhile.

The indexer reads batches in ``seq`` order and prunes them once DuckDB has committed them.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
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
"""

_MAX_GROUP = 256  # batches per group commit


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


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class WriteAheadLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = _connect(path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(path)
        self._reader_lock = threading.Lock()
        self._queue: queue.Queue[tuple[bytes, int, str | None, Future[int]] | None] = queue.Queue()
        self._closed = False
        # Guards the closed flag together with queue.put, so no append can slip in behind
        # the shutdown marker and wait forever for a writer that has gone.
        self._state_lock = threading.Lock()
        # The backlog, kept in memory so ingestion can check it on every request for free.
        (batches,) = self._reader.execute("SELECT count(*) FROM batches").fetchone()
        (pending_bytes,) = self._reader.execute("SELECT pending_bytes FROM totals").fetchone()
        self._backlog = [batches, pending_bytes]
        self._thread = threading.Thread(target=self._write_loop, name="junjo-wal", daemon=True)
        self._thread.start()

    # -- writing ---------------------------------------------------------------------------

    def append(self, payload: bytes, span_count: int, api_key_id: str | None = None) -> int:
        """Durably store one batch and return its sequence number."""
        done: Future[int] = Future()
        with self._state_lock:
            if self._closed:
                raise WalClosed("write-ahead log is closed")
            self._queue.put((payload, span_count, api_key_id, done))
        return done.result()

    def backlog(self) -> tuple[int, int]:
        """(batches, payload bytes) appended but not yet pruned; no I/O."""
        with self._state_lock:
            return self._backlog[0], self._backlog[1]

    def _add_backlog(self, batches: int, size: int) -> None:
        with self._state_lock:
            self._backlog[0] = max(0, self._backlog[0] + batches)
            self._backlog[1] = max(0, self._backlog[1] + size)

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

    def _commit(self, group: list[tuple[bytes, int, str | None, Future[int]]]) -> None:
        now = time.time_ns()
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            seqs = []
            for payload, span_count, key_id, _ in group:
                cur = self._writer.execute(
                    "INSERT INTO batches (received_at_ns, api_key_id, span_count, payload)"
                    " VALUES (?, ?, ?, ?)",
                    (now, key_id, span_count, payload),
                )
                seqs.append(cur.lastrowid)
            self._writer.execute(
                "UPDATE totals SET accepted_batches = accepted_batches + ?,"
                " accepted_spans = accepted_spans + ?, pending_bytes = pending_bytes + ?",
                (
                    len(group),
                    sum(g[1] for g in group),
                    sum(len(g[0]) for g in group),
                ),
            )
            self._writer.execute("COMMIT")
            self._add_backlog(len(group), sum(len(g[0]) for g in group))
        except Exception as exc:  # disk full, I/O error: every waiter learns it
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
            for *_, done in group:
                done.set_exception(exc)
            return
        for seq, (*_, done) in zip(seqs, group, strict=True):
            done.set_result(seq)

    # -- reading and pruning (the indexer's side) ------------------------------------------

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

    def prune_through(self, seq: int) -> int:
        """Delete batches up to and including ``seq``; returns how many were removed."""
        with self._reader_lock:
            conn = self._reader
            conn.execute("BEGIN IMMEDIATE")
            try:
                count, size = conn.execute(
                    "SELECT count(*), coalesce(sum(length(payload)), 0) FROM batches"
                    " WHERE seq <= ?",
                    (seq,),
                ).fetchone()
                conn.execute("DELETE FROM batches WHERE seq <= ?", (seq,))
                conn.execute("UPDATE totals SET pending_bytes = max(0, pending_bytes - ?)", (size,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._add_backlog(-count, -size)
        return count

    def totals(self) -> WalTotals:
        with self._reader_lock:
            batches, spans, pending_bytes = self._reader.execute(
                "SELECT accepted_batches, accepted_spans, pending_bytes FROM totals"
            ).fetchone()
            (pending,) = self._reader.execute("SELECT count(*) FROM batches").fetchone()
        return WalTotals(batches, spans, pending, pending_bytes)

    def last_seq(self) -> int:
        with self._reader_lock:
            (seq,) = self._reader.execute("SELECT coalesce(max(seq), 0) FROM batches").fetchone()
        return seq

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Finish every queued append, then close the files."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        self._writer.close()
        with self._reader_lock:
            self._reader.close()
