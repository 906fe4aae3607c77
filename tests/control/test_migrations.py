import threading
from pathlib import Path

import pytest

from junjo.kernel.control_db import CONTROL_MIGRATIONS, connect, open_control_db
from junjo.kernel.migrations import SchemaTooNew, current_version, migrate, status


def test_fresh_database_is_migrated_to_latest(tmp_path: Path):
    db = open_control_db(tmp_path / "junjo.db")
    assert current_version(db) == CONTROL_MIGRATIONS[-1].version
    assert {"users", "api_keys", "schema_version"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrating_twice_applies_nothing(tmp_path: Path):
    db = open_control_db(tmp_path / "junjo.db")
    assert migrate(db, CONTROL_MIGRATIONS, "control") == []


def test_concurrent_migrators_apply_each_step_once(tmp_path: Path):
    path = tmp_path / "junjo.db"
    errors: list[Exception] = []

    def run() -> None:
        try:
            migrate(connect(path), CONTROL_MIGRATIONS, "control")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = connect(path).execute("SELECT version FROM schema_version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in CONTROL_MIGRATIONS]


def test_database_from_a_newer_junjo_is_refused(tmp_path: Path):
    db = open_control_db(tmp_path / "junjo.db")
    db.execute("INSERT INTO schema_version VALUES (999, 'future', '2030-01-01T00:00:00Z')")
    with pytest.raises(SchemaTooNew, match="newer junjo"):
        open_control_db(tmp_path / "junjo.db")
    with pytest.raises(SchemaTooNew):
        status(db, CONTROL_MIGRATIONS, "control")
