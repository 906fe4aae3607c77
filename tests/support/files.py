"""A data dir's files in tests: their modes, and one that a newer junjo wrote."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from tests.support.cli import run_cli


def file_modes(root: Path) -> dict[str, int]:
    """``st_mode`` of everything under ``root`` (files the server deletes meanwhile, such
    as a checkpointed WAL, are skipped)."""
    modes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                modes[os.path.relpath(path, root)] = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
    return modes


def assert_private(root: Path) -> None:
    loose = {
        name: oct(stat.S_IMODE(mode))
        for name, mode in file_modes(root).items()
        if stat.S_IMODE(mode) != (0o700 if stat.S_ISDIR(mode) else 0o600)
    }
    assert not loose, f"not private: {loose}"


def newer_data_dir(data_dir: Path) -> Path:
    """``data_dir`` migrated, then marked with a schema version from a future junjo."""
    assert run_cli(data_dir, "migrate").returncode == 0
    conn = sqlite3.connect(data_dir / "junjo.db")
    conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01T00:00:00Z')")
    conn.commit()
    conn.close()
    return data_dir
