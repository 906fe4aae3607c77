"""The trace directory: which traces the span store holds, and between which WAL positions
their spans were written. A SQLite file beside the span store (``spans.index.db``).

It lets a write find what it needs in time proportional to the write, not to the table:

* which of the write's traces already have a summary row (to update it rather than add a
  second one);
* where re-sent spans of those traces could be: between the trace's first and last
  ``wal_seq``, a range DuckDB's zonemaps prune to a few row groups, because ``wal_seq``
  only grows.

Why not DuckDB: its only index, the ART, is held in memory (~75 bytes a 32-character key,
~45 for a 16-byte one) and is never evicted. Measured: a ``PRIMARY KEY`` on trace ids
filled the server's 64 MB limit at ~700k traces, and every write failed from then on.
SQLite keeps its B-tree on disk behind a page cache of a few MiB.

The directory is derived data. It records the WAL position it is complete through
(``through_seq``), and ``SpanStore`` writes it after each DuckDB commit; if a crash comes
between the two, or the file is lost, the store fills in what is missing from the spans
themselves when it opens (``SpanStore.sync_directory``). Hence ``synchronous=NORMAL``: a
transaction lost in a power cut is rebuilt, not needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from junjo.kernel.transaction import transaction

# Trace ids are lowercase hex text, as in the span store. WITHOUT ROWID keeps the key in the
# B-tree itself: one lookup, ~60 bytes a trace on disk.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS directory_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO directory_state VALUES (1, 0);
"""
_UPSERT = (
    "INSERT INTO traces (trace_id, first_seq, last_seq) VALUES (?, ?, ?)"
    " ON CONFLICT (trace_id) DO UPDATE SET"
    " first_seq = min(first_seq, excluded.first_seq),"
    " last_seq = max(last_seq, excluded.last_seq)"
)
# SQLite's limit on bound parameters is 32,766 since 3.32; stay well below it.
_LOOKUP_CHUNK = 500

SeqRange = tuple[int, int]


class TraceDirectory:
    """Owned by the span store's writer; not thread-safe (one connection)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    @property
    def through_seq(self) -> int:
        (seq,) = self._conn.execute("SELECT through_seq FROM directory_state").fetchone()
        return int(seq)

    def lookup(self, trace_ids: Iterable[str]) -> dict[str, SeqRange]:
        """The (first, last) WAL seq of each of ``trace_ids`` already stored."""
        found: dict[str, SeqRange] = {}
        for chunk in _chunks(trace_ids, _LOOKUP_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT trace_id, first_seq, last_seq FROM traces WHERE trace_id IN ({marks})",
                chunk,
            )
            found.update((trace_id, (first, last)) for trace_id, first, last in rows)
        return found

    def record(self, rows: Iterable[tuple[str, int, int]], through_seq: int | None) -> None:
        """Widen the ranges of (trace_id, first_seq, last_seq) rows and move
        ``through_seq`` (unless None), in one transaction."""
        with transaction(self._conn):
            self._conn.executemany(_UPSERT, rows)
            if through_seq is not None:
                self._conn.execute("UPDATE directory_state SET through_seq = ?", (through_seq,))

    def forget(self, trace_ids: Iterable[str]) -> None:
        """Remove deleted traces (retention)."""
        with transaction(self._conn):
            for chunk in _chunks(trace_ids, _LOOKUP_CHUNK):
                marks = ",".join("?" * len(chunk))
                self._conn.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", chunk)

    def reset(self) -> None:
        """Forget everything (the span store it described was replaced)."""
        with transaction(self._conn):
            self._conn.execute("DELETE FROM traces")
            self._conn.execute("UPDATE directory_state SET through_seq = 0")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TraceDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- WAL-position ranges ----------------------------------------------------------------
# A write looks rows up by the WAL positions the directory gave it. Few ranges keep the
# statement small; any range is still pruned by zonemaps, so merging the closest ones only
# costs the row groups between them.
MAX_RANGES = 32


def covering_ranges(ranges: Iterable[SeqRange]) -> list[SeqRange]:
    """At most ``MAX_RANGES`` sorted ranges covering every position in ``ranges``."""
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if len(merged) <= MAX_RANGES:
        return [(lo, hi) for lo, hi in merged]
    # Keep the widest gaps as the cuts; close the others.
    gaps = sorted((merged[i + 1][0] - merged[i][1], i) for i in range(len(merged) - 1))
    cuts = sorted(i for _, i in gaps[-(MAX_RANGES - 1) :])
    out, start = [], 0
    for cut in [*cuts, len(merged) - 1]:
        out.append((merged[start][0], merged[cut][1]))
        start = cut + 1
    return out


def range_clause(column: str, ranges: Iterable[SeqRange]) -> tuple[str, list[int]]:
    """``(column BETWEEN ? AND ?) OR ...`` and its parameters, for ``covering_ranges``."""
    covered = covering_ranges(ranges)
    sql = " OR ".join([f"({column} BETWEEN ? AND ?)"] * len(covered))
    return sql or "false", [bound for pair in covered for bound in pair]
