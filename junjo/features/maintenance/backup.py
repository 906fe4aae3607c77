"""``junjo backup`` while the server runs: a copy that loses nothing acknowledged and holds
nothing twice.

The server holds the span store's only writer, so the server copies it. The order:

1. ``junjo.db`` (SQLite backup API: a consistent snapshot whenever it is taken);
2. under the span store's write lock (the indexer finishes its write and waits; exports are
   still acknowledged into the WAL meanwhile): a checkpoint, then ``spans.duckdb`` (and its
   WAL, if the checkpoint could not empty it) copied as files, its indexed WAL position P
   read, ``spans.index.db`` and ``wal.db`` copied with SQLite's backup API;
3. in the copy of ``wal.db``, the batches at or before P are deleted: they are in the copied
   span store. Every batch after P is in the copied WAL, because the WAL is pruned only
   through positions the span store has committed, and nothing commits while the lock is
   held.

So a batch acknowledged before the backup began is in the copy exactly once: in the span
store (seq <= P) or in the WAL (seq > P), which the restored server indexes at start.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junjo.kernel import backup
from junjo.kernel.errors import PermissionDenied
from junjo.kernel.principal import Principal

if TYPE_CHECKING:
    from junjo.config import Settings
    from junjo.features.spans import SpanStore


def backup_running(
    principal: Principal, settings: Settings, store: SpanStore, path: Path
) -> dict[str, Any]:
    """Write a consistent copy of the running server's data dir to ``path`` (new or empty,
    on this machine: only the local operator, whose token is in ``server.json``, may)."""
    if principal.kind != "operator":
        raise PermissionDenied("backups are written by `junjo backup` on the server's machine")
    started = time.monotonic()
    target = backup.new_destination(path)
    data_dir = settings.data_dir
    copied = backup.copy_files(data_dir, target, ("junjo.db", *backup.OTHER_FILES))
    paused = time.monotonic()
    with store.exclusive():
        store.checkpoint()
        position = store.indexer_state().indexed_seq
        copied += backup.copy_files(data_dir, target, backup.DUCKDB_FILES)
        copied += backup.copy_files(data_dir, target, ("spans.index.db", "wal.db"))
    paused = time.monotonic() - paused
    pending = _drop_indexed(target / "wal.db", position)
    info = {"files": copied, "online": True, "indexed_seq": position, "wal_batches": pending}
    backup.write_manifest(target, info)
    size = sum(p.stat().st_size for p in target.iterdir())
    return {
        "path": str(target),
        **info,
        "bytes": size,
        "seconds": round(time.monotonic() - started, 3),
        "indexing_paused_seconds": round(paused, 3),
    }


def _drop_indexed(wal_copy: Path, position: int) -> int:
    """Delete the copied WAL's batches the copied span store holds; returns those left."""
    if not wal_copy.exists():
        return 0
    conn = sqlite3.connect(wal_copy, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM batches WHERE seq <= ?", (position,))
        conn.execute(
            "UPDATE totals SET pending_bytes ="
            " (SELECT coalesce(sum(length(payload)), 0) FROM batches)"
        )
        conn.execute("COMMIT")
        conn.execute("VACUUM")
        (left,) = conn.execute("SELECT count(*) FROM batches").fetchone()
        return int(left)
    finally:
        conn.close()
