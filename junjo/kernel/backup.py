"""Copies of a data dir: the files a backup holds, copied consistently, and putting them back.

What is copied: ``junjo.db`` (users, keys), ``wal.db`` (what is not yet indexed, and the
quarantine), ``spans.duckdb`` with its own WAL, ``spans.index.db`` (derived, but rebuilding
it costs time on a large store) and ``secret_key``. Never ``server.json`` or the lock.

SQLite files are copied with SQLite's online backup API: a consistent snapshot even while
another connection writes. DuckDB has no such API for a file another process (or connection)
holds; its file and WAL are copied as files, which is consistent only while nothing writes
it: with no server (this module), or in the server under the span store's write lock
(``junjo.features.maintenance.backup``). Docs: README "Backing up", docs/operations.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from junjo.kernel.errors import Conflict, InvalidInput
from junjo.kernel.migrations import Store, status
from junjo.kernel.runtime_file import server_is_running

SQLITE_FILES = ("junjo.db", "wal.db", "spans.index.db")
DUCKDB_FILES = ("spans.duckdb", "spans.duckdb.wal")
OTHER_FILES = ("secret_key",)
DATA_FILES = SQLITE_FILES + DUCKDB_FILES + OTHER_FILES
MANIFEST = "backup.json"
BACKUPS_DIR = "backups"  # inside the data dir: the copies taken before an upgrade
KEEP_UPGRADE_BACKUPS = 3


def new_destination(path: Path) -> Path:
    """A backup's directory: created empty; refused if it exists and is not empty."""
    path = path.expanduser().absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise Conflict(f"{path} exists and is not an empty directory: give a new path")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file, also while others write it."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def copy_file(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())


def copy_files(data_dir: Path, target: Path, names: Sequence[str]) -> list[str]:
    """Copy those of ``names`` that exist; returns the names copied."""
    copied = []
    for name in names:
        source = data_dir / name
        if not source.exists():
            continue
        (copy_sqlite if name in SQLITE_FILES else copy_file)(source, target / name)
        copied.append(name)
    return copied


def write_manifest(target: Path, info: dict[str, Any]) -> None:
    from junjo import __version__

    manifest = {"junjo_version": __version__, "created_at": _utc_now(), **info}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{path} is not a junjo backup (no {MANIFEST})") from None
    except ValueError as exc:
        raise InvalidInput(f"{path / MANIFEST}: {exc}") from None
    return found


def copy_stopped(data_dir: Path, target: Path) -> list[str]:
    """Copy a data dir no server runs on (the caller holds its lock)."""
    copied = copy_files(data_dir, target, DATA_FILES)
    write_manifest(target, {"files": copied, "online": False})
    return copied


def restore(source: Path, data_dir: Path) -> Path | None:
    """Put a backup's files into ``data_dir``. Refused while a server runs on it; the files
    it replaces are moved to ``<data_dir>/backups/replaced-<time>/`` (returned), not lost."""
    source = source.expanduser().absolute()
    manifest = read_manifest(source)
    if server_is_running(data_dir):
        raise Conflict(f"a junjo server is running on {data_dir}: stop it before restoring")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from junjo.kernel.runtime_file import DataDirInUse, ServerLock

    try:
        lock = ServerLock(data_dir)  # no server may start while files are swapped
    except DataDirInUse:
        raise Conflict(f"a junjo server is running on {data_dir}: stop it first") from None
    try:
        replaced = _move_aside(data_dir, "replaced")
        for name in manifest.get("files", []):
            if name not in DATA_FILES:
                continue
            temporary = data_dir / f".{name}.restoring"
            copy_file(source / name, temporary)
            os.replace(temporary, data_dir / name)
        for stale in ("-wal", "-shm"):  # SQLite's side files of the replaced databases
            for name in SQLITE_FILES:
                (data_dir / (name + stale)).unlink(missing_ok=True)
    finally:
        lock.release()
    return replaced


def _move_aside(data_dir: Path, label: str) -> Path | None:
    present = [p for p in data_dir.iterdir() if _is_data_file(p.name)]
    if not present:
        return None
    aside = data_dir / BACKUPS_DIR / f"{label}-{_stamp()}"
    aside.mkdir(parents=True, mode=0o700)
    for path in present:
        os.replace(path, aside / path.name)
    return aside


def _is_data_file(name: str) -> bool:
    return any(name == base or name.startswith(base + "-") for base in DATA_FILES)


def backup_before_upgrade(data_dir: Path, stores: Sequence[Store]) -> Path | None:
    """Before migrations run at start: if a store of an older release is there (schema
    version below this release's), copy the data dir to
    ``<data_dir>/backups/pre-upgrade-<time>/`` and keep the newest ``KEEP_UPGRADE_BACKUPS``
    such copies. Returns the copy's path, or None when nothing needed migrating. Fails
    (Conflict) rather than migrate without a backup when the disk lacks the room."""
    outdated = [store.label for store in stores if _needs_upgrade(store)]
    if not outdated:
        return None
    needed = sum(_size(data_dir / name) for name in DATA_FILES)
    free = shutil.disk_usage(data_dir).free
    if free < needed * 1.1:
        raise Conflict(
            f"{', '.join(outdated)} must be migrated, and the backup taken first needs"
            f" {needed >> 20} MiB but {free >> 20} MiB are free in {data_dir}: free space,"
            " or run `junjo migrate` to migrate without a backup"
        )
    parent = data_dir / BACKUPS_DIR
    target = parent / f"pre-upgrade-{_stamp()}"
    target.mkdir(parents=True, mode=0o700)
    copy_stopped(data_dir, target)
    old = sorted(p for p in parent.iterdir() if p.name.startswith("pre-upgrade-"))
    for stale in old[:-KEEP_UPGRADE_BACKUPS]:
        shutil.rmtree(stale, ignore_errors=True)
    return target


def _needs_upgrade(store: Store) -> bool:
    """A store there, written at an older schema version (an unversioned file of an early
    release counts: it has tables but no version)."""
    if not store.path.exists() or store.path.stat().st_size == 0:
        return False
    if store.one_writer:  # DuckDB: read-only while no server runs (the caller holds the lock)
        conn = store.connect(True)
    else:  # SQLite: read-only, so checking changes nothing in the file before it is copied
        conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        state = status(conn, store.migrations)
    finally:
        conn.close()
    return state.current < state.latest


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
