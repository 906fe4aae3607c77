"""Migration 7: the JSON columns of ``spans`` compressed with zstd, rows kept in order; a file
in a storage format too old for zstd keeps its table as it was."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

from junjo.features.spans.convert import convert_request
from junjo.features.spans.schema import SPAN_COLUMNS, SPAN_MIGRATIONS
from junjo.features.spans.store import SpanStore
from junjo.kernel.migrations import migrate
from tests.support.otlp_builders import T0, junjo_workflow_trace, request_payload
from tests.support.span_store import query

JSON_COLUMNS = [name for name in SPAN_COLUMNS if name.endswith("_json")]


def old_store(path: Path, traces: int, **config: str) -> list[tuple[object, ...]]:
    """A store at migration 6 holding ``traces`` workflow traces; returns its rows."""
    conn = duckdb.connect(str(path), config=config)
    migrate(conn, dataclasses.replace(SPAN_MIGRATIONS, steps=SPAN_MIGRATIONS.steps[:6]))
    rows = []
    for trace in range(traces):
        spans = junjo_workflow_trace(nodes=3, patch_padding=50, start_ns=T0 + trace)
        rows += convert_request(request_payload(spans), seq=trace + 1).spans
    marks = ", ".join("?" * len(SPAN_COLUMNS))
    conn.executemany(f"INSERT INTO spans VALUES ({marks})", rows)
    conn.close()
    return rows


def compressions(store: SpanStore) -> dict[str, set[str]]:
    store.checkpoint()
    found: dict[str, set[str]] = {}
    for column, compression in query(
        store, "SELECT column_name, compression FROM pragma_storage_info('spans')"
    ):
        found.setdefault(column, set()).add(compression)
    return found


def test_an_old_store_gets_zstd_json_columns_and_keeps_every_row_in_order(tmp_path: Path):
    path = tmp_path / "spans.duckdb"
    rows = old_store(path, traces=50)
    with SpanStore.open(path) as store:
        assert query(store, "SELECT * FROM spans ORDER BY rowid") == rows
        used = compressions(store)
        for column in JSON_COLUMNS:
            assert "ZSTD" in used[column] or used[column] == {"Constant"}, column
        assert "ZSTD" in used["attributes_json"]
        assert "ZSTD" not in used["trace_id"]  # only the JSON columns
        (sql,) = query(store, "SELECT sql FROM duckdb_tables() WHERE table_name = 'spans'")[0]
        assert sql.count("USING COMPRESSION ZSTD") == len(JSON_COLUMNS)


def test_a_file_in_a_storage_format_without_zstd_keeps_its_table(tmp_path: Path):
    """DuckDB would store zstd strings uncompressed in such a file: bigger than before."""
    path = tmp_path / "spans.duckdb"
    rows = old_store(path, traces=5, storage_compatibility_version="v1.0.0")
    with SpanStore.open(path) as store:
        assert query(store, "SELECT * FROM spans ORDER BY rowid") == rows
        (sql,) = query(store, "SELECT sql FROM duckdb_tables() WHERE table_name = 'spans'")[0]
        assert "COMPRESSION" not in sql
        assert "Uncompressed" not in compressions(store)["attributes_json"]
