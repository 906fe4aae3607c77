"""The one migration runner, on SQLite and DuckDB files alike, and the control database's."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from junjo.kernel.control_db import CONTROL_MIGRATIONS, connect, open_control_db
from junjo.kernel.migrations import (
    Migration,
    Migrations,
    SchemaTooNew,
    current_version,
    migrate,
    status,
)


def _sqlite(path: Path) -> Any:
    return sqlite3.connect(path.with_suffix(".db"), isolation_level=None)


def _duckdb(path: Path) -> Any:
    return duckdb.connect(str(path.with_suffix(".duckdb")))


@pytest.fixture(params=[_sqlite, _duckdb], ids=["sqlite", "duckdb"])
def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens the same database file each call; closes them all at the end."""
    opened: list[Any] = []

    def again() -> Any:
        opened.append(request.param(tmp_path / "store"))
        return opened[-1]

    yield again
    for conn in opened:
        conn.close()


STEPS = Migrations(
    "the test store",
    (
        Migration(1, "a table", "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (y TEXT);"),
        Migration(2, "a row", lambda conn: conn.execute("INSERT INTO a VALUES (2)")),
    ),
)


def test_a_new_database_is_at_version_zero_and_nothing_is_written(open_db):
    conn = open_db()
    assert current_version(conn) == 0
    assert status(conn, STEPS).pending == list(STEPS.steps)
    assert current_version(conn) == 0  # looking created no version table


def test_migrations_apply_in_order_once_and_are_recorded(open_db):
    conn = open_db()
    assert migrate(conn, STEPS) == [1, 2]
    assert migrate(open_db(), STEPS) == []
    assert conn.execute("SELECT x FROM a").fetchall() == [(2,)]
    rows = conn.execute("SELECT version, description, applied_at FROM schema_version").fetchall()
    assert [row[:2] for row in rows] == [(1, "a table"), (2, "a row")]
    assert all(len(row[2]) == 20 and row[2].endswith("Z") for row in rows)  # ISO UTC


def test_a_failed_migration_rolls_back_alone(open_db):
    conn = open_db()
    broken = Migrations(
        "the test store",
        (*STEPS.steps, Migration(3, "broken", "INSERT INTO a VALUES (3); SELECT * FROM gone")),
    )
    with pytest.raises((sqlite3.OperationalError, duckdb.CatalogException)):
        migrate(conn, broken)
    assert current_version(conn) == 2
    assert conn.execute("SELECT x FROM a").fetchall() == [(2,)]  # the 3 was rolled back


def test_a_database_from_a_newer_junjo_is_refused(open_db):
    conn = open_db()
    migrate(conn, STEPS)
    older = Migrations("the test store", STEPS.steps[:1])
    with pytest.raises(SchemaTooNew, match=r"the test store is at schema version 2.*newer junjo"):
        status(conn, older)
    with pytest.raises(SchemaTooNew):
        migrate(conn, older)


def test_a_script_with_semicolons_in_strings_runs_whole(open_db):
    steps = Migrations(
        "the test store",
        (Migration(1, "quoted", "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a;b');"),),
    )
    conn = open_db()
    migrate(conn, steps)
    assert conn.execute("SELECT v FROM t").fetchall() == [("a;b",)]


# -- the control database -------------------------------------------------------------------


def test_fresh_control_database_is_migrated_to_latest(tmp_path: Path):
    db = open_control_db(tmp_path / "junjo.db")
    assert current_version(db.conn) == CONTROL_MIGRATIONS.latest
    assert {"users", "api_keys", "schema_version"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_migrators_apply_each_step_once(tmp_path: Path):
    path = tmp_path / "junjo.db"
    errors: list[Exception] = []

    def run() -> None:
        try:
            migrate(connect(path).conn, CONTROL_MIGRATIONS)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = connect(path).execute("SELECT version FROM schema_version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in CONTROL_MIGRATIONS.steps]


def test_control_database_from_a_newer_junjo_is_refused(tmp_path: Path):
    db = open_control_db(tmp_path / "junjo.db")
    db.execute("INSERT INTO schema_version VALUES (999, 'future', '2030-01-01T00:00:00Z')")
    with pytest.raises(SchemaTooNew, match=r"the control database .* newer junjo"):
        open_control_db(tmp_path / "junjo.db")
