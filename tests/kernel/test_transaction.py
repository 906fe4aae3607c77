"""The one transaction helper, on SQLite and DuckDB connections."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest

from junjo.kernel.transaction import transaction


@pytest.fixture(params=["sqlite", "duckdb"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        connection: Any = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    else:
        connection = duckdb.connect(str(tmp_path / "t.duckdb"))
    connection.execute("CREATE TABLE t (x INTEGER)")
    yield connection
    connection.close()


def rows(conn: Any) -> list[tuple[int]]:
    return conn.execute("SELECT x FROM t ORDER BY x").fetchall()


def test_the_block_commits_when_it_returns(conn):
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert rows(conn) == [(1,)]


def test_the_block_rolls_back_and_re_raises_when_it_fails(conn):
    with pytest.raises(KeyError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        raise KeyError("boom")
    assert rows(conn) == []
    with transaction(conn):  # the connection is usable again
        conn.execute("INSERT INTO t VALUES (2)")
    assert rows(conn) == [(2,)]


def test_a_failing_rollback_does_not_hide_the_error(conn):
    with pytest.raises(KeyError), transaction(conn):
        conn.execute("ROLLBACK")  # the transaction is gone: the helper's ROLLBACK fails
        raise KeyError("the real error")
