"""A data dir of an older release: `junjo serve` copies it to backups/pre-upgrade-*/ and then
migrates it; the copy is the old data dir, usable with `junjo restore`; three are kept."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from junjo.features.spans.schema import SPAN_MIGRATIONS
from junjo.kernel.migrations import current_version
from tests.kernel.test_old_data_dirs import RAW_KEY, old_control_db, old_span_store, old_wal
from tests.support.otlp_builders import junjo_workflow_trace
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def span_version_and_count(path: Path) -> tuple[int, int]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        (spans,) = conn.execute("SELECT count(*) FROM spans").fetchone()
        return current_version(conn), spans
    finally:
        conn.close()


def test_an_old_data_dir_is_backed_up_then_migrated_on_start(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old_control_db(data / "junjo.db")
    old_wal(data / "wal.db", with_quarantine=True)
    trace = junjo_workflow_trace(nodes=1)
    old_span_store(data / "spans.duckdb", trace)
    version, spans = span_version_and_count(data / "spans.duckdb")
    assert version == 3 and spans > 0
    backups = data / "backups"
    for stamp in ("20240101T000000Z-1", "20240102T000000Z-1", "20240103T000000Z-1"):
        (backups / f"pre-upgrade-{stamp}").mkdir(parents=True)

    with ServerProcess(data) as server:
        assert "copied it to" in server.log and "before migrating" in server.log
        headers = {"x-junjo-api-key": RAW_KEY, "Content-Type": "application/json"}
        assert server.client().post("/v1/traces", content="{}", headers=headers).status_code == 200
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3 and kept[0] == "pre-upgrade-20240102T000000Z-1", kept
    copy = backups / kept[-1]
    assert span_version_and_count(copy / "spans.duckdb") == (3, spans), "the old store as it was"
    assert json.loads((copy / "backup.json").read_text())["online"] is False
    assert span_version_and_count(data / "spans.duckdb") == (SPAN_MIGRATIONS.latest, spans)

    # Up to date now: the next start copies nothing.
    with ServerProcess(data) as server:
        assert "before migrating" not in server.log
    assert sorted(p.name for p in backups.iterdir()) == kept
