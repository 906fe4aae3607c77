"""File-mode checks for the data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path


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
