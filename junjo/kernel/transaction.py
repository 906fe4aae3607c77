"""One transaction helper for SQLite (``sqlite3``, autocommit mode) and DuckDB connections."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def transaction(conn: Any, begin: str = "BEGIN") -> Iterator[None]:
    """``begin``, then COMMIT if the block returns, ROLLBACK if it raises (and re-raise).

    A failed ROLLBACK (the connection is already broken) must not hide the error that
    caused it, so it is suppressed."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
