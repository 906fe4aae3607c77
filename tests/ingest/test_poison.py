"""Poison exports: one bad span or one huge value must never cost the spans around it, or
stop the indexer for the batches behind it (the real runtime: WAL, indexer, DuckDB)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from junjo.features.spans.schema import SPAN_MIGRATIONS
from junjo.kernel.migrations import migrate
from junjo.kernel.principal import Principal
from junjo.kernel.wal import SetAside
from tests.conftest import LOCAL_TOKEN
from tests.ingest.conftest import Harness
from tests.support.export import TRACE_EXPORT
from tests.support.otlp_builders import build_request, new_ids, request_bytes
from tests.support.span_store import query

MIB = 1 << 20
U64_MAX = (1 << 64) - 1


def with_times(ids, *, bad: int, start: int = 0, end: int = 0, event: int = 0) -> bytes:
    request = build_request(ids)
    span = request.resource_spans[0].scope_spans[0].spans[bad]
    span.start_time_unix_nano = start or span.start_time_unix_nano
    span.end_time_unix_nano = end or span.end_time_unix_nano
    if event:
        span.events.add(name="set_state", time_unix_nano=event)
    return request.SerializeToString()


@pytest.mark.parametrize(
    "times", [{"start": U64_MAX}, {"end": 1 << 63}, {"event": U64_MAX}], ids=str
)
def test_an_out_of_range_time_rejects_that_span_alone(server: Harness, times: dict):
    # Before: acknowledged, then the whole batch (the 9 good spans too) was quarantined.
    ids = new_ids(10)
    code, response, _ = server.call(TRACE_EXPORT, with_times(ids, bad=3, **times))
    assert code.name == "OK"
    partial = ExportTraceServiceResponse.FromString(response).partial_success
    assert partial.rejected_spans == 1 and "2^63-1" in partial.error_message
    assert sorted(server.stored()) == sorted(i.key for i in ids[:3] + ids[4:])
    assert server.runtime.indexer.status().quarantined_spans == 0


def test_an_out_of_range_time_over_http_is_reported_in_partial_success(server: Harness):
    ids = new_ids(5)
    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=with_times(ids, bad=0, start=U64_MAX),
        headers={"Content-Type": "application/x-protobuf", "x-junjo-api-key": server.keys.ingest},
    )
    assert response.status_code == 200
    assert (
        ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 1
    )
    assert sorted(server.stored()) == sorted(i.key for i in ids[1:])


def huge_span_request(values: dict[str, int]) -> tuple[bytes, tuple[str, str]]:
    """One span whose attributes ``key`` hold strings of the given sizes in bytes."""
    ids = new_ids(1)
    request = build_request(ids)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    for key, size in values.items():
        attribute = span.attributes.add()
        attribute.key, attribute.value.string_value = key, "é" * (size // 2)
    return request.SerializeToString(), ids[0].key


def stored_attributes(server: Harness, key: tuple[str, str]) -> dict:
    server.stored()
    ((attributes_json,),) = query(
        server.runtime.store,
        "SELECT attributes_json FROM spans WHERE trace_id = ? AND span_id = ?",
        list(key),
    )
    return json.loads(attributes_json)


def test_huge_values_are_stored_truncated_and_block_nothing(server: Harness):
    # Before: one 30 MB value made DuckDB fail to allocate a 50 MiB block; the write was
    # retried for ever and every later batch waited behind it, also after a restart.
    one, one_key = huge_span_request({"input.value": 30 * MIB})
    five, five_key = huge_span_request({f"doc{i}": 10 * MIB for i in range(5)})
    after = new_ids(3)
    for payload in (one, five, request_bytes(after)):
        assert server.call(TRACE_EXPORT, payload)[0].name == "OK"
    assert set(i.key for i in after) <= set(server.stored())

    attrs = stored_attributes(server, one_key)
    value = attrs["input.value"]
    assert value.endswith("…[truncated by junjo: 31,457,280 bytes]")
    assert len(value.encode()) < MIB + 100 and value.startswith("éé")  # no half character
    assert attrs["junjo.server.truncated"] == {"attributes.input.value": 30 * MIB}
    truncated = stored_attributes(server, five_key)["junjo.server.truncated"]
    assert truncated == {f"attributes.doc{i}": 10 * MIB for i in range(5)}
    status = server.runtime.service.status()
    assert status["truncated_values"] == 6 and status["indexer_error"] is None
    assert status["quarantined"]["spans"] == 0


def test_a_span_the_store_cannot_hold_is_quarantined_alone_and_replayed(
    start_server: Callable[..., Harness],
):
    # With truncation off (a limit above the value), a 30 MB value still exhausts DuckDB's
    # memory: after checkpoints and retries the write is split down to that span, which
    # alone is set aside; its neighbour and the batches behind it are stored.
    server = start_server(max_attribute_value_kb=64 * 1024)
    huge, huge_key = huge_span_request({"input.value": 30 * MIB})
    request = ExportTraceServiceRequest.FromString(huge)
    neighbour = new_ids(1)[0]
    extra = build_request([neighbour]).resource_spans[0].scope_spans[0].spans[0]
    request.resource_spans[0].scope_spans[0].spans.append(extra)
    after = new_ids(3)
    for payload in (request.SerializeToString(), request_bytes(after)):
        assert server.call(TRACE_EXPORT, payload)[0].name == "OK"
    stored = set(server.stored())
    assert {neighbour.key, *(i.key for i in after)} <= stored and huge_key not in stored
    listed = server.runtime.service.quarantine(Principal.operator())
    assert (listed["pending_entries"], listed["pending_spans"]) == (1, 1)
    (entry,) = listed["entries"]
    assert entry["span_count"] == 1 and "OutOfMemory" in entry["error"]
    assert "payload" not in entry

    # Once the limit is back to its default, replaying the entry stores the span, truncated.
    server.runtime.stop()
    server = start_server()
    result = server.runtime.service.replay_quarantined(Principal.operator(), [entry["id"]])
    assert result == {"replayed": [entry["id"]], "spans": 1}
    assert stored_attributes(server, huge_key)["junjo.server.truncated"] == {
        "attributes.input.value": 30 * MIB
    }
    assert server.runtime.service.quarantine(Principal.operator())["pending_entries"] == 0


def test_quarantine_is_listed_and_replayed_over_http(server: Harness):
    ids = new_ids(2)
    server.runtime.wal.quarantine([SetAside(7, 1, None, 2, "store: boom", request_bytes(ids))])
    base = f"{server.http_url}/api/v1/ingest"
    read = {"Authorization": f"Bearer {server.keys.read}"}
    operator = {"Authorization": f"Bearer {LOCAL_TOKEN}"}

    assert httpx.get(f"{base}/quarantine").status_code == 401
    assert httpx.get(f"{base}/quarantine?limit=abc", headers=read).status_code == 422
    listed = httpx.get(f"{base}/quarantine?limit=5", headers=read).json()
    (entry,) = listed["entries"]
    assert (entry["seq"], entry["span_count"], entry["error"]) == (7, 2, "store: boom")
    status = httpx.get(f"{base}/status", headers=read).json()
    assert status["quarantine"]["pending_spans"] == 2 and status["truncated_values"] == 0

    replay = f"{base}/quarantine/replay"
    assert httpx.post(replay, json={"all": True}, headers=read).status_code == 401
    assert httpx.post(replay, json={}, headers=operator).status_code == 422
    for bad in ([], [2**63], [True], list(range(1, 1002))):
        assert httpx.post(replay, json={"ids": bad}, headers=operator).status_code == 422
    assert httpx.post(replay, json={"ids": [entry["id"] + 1]}, headers=operator).status_code == 404
    response = httpx.post(replay, json={"ids": [entry["id"]]}, headers=operator)
    assert response.json() == {"replayed": [entry["id"]], "spans": 2}
    assert sorted(server.stored()) == sorted(i.key for i in ids)
    assert httpx.get(f"{base}/quarantine", headers=read).json()["pending_entries"] == 0


def test_entries_older_versions_kept_in_the_span_store_move_to_the_wal(
    tmp_path: Path, start_server: Callable[..., Harness]
):
    ids = new_ids(3)
    (tmp_path / "data").mkdir(exist_ok=True)
    conn = duckdb.connect(str(tmp_path / "data" / "spans.duckdb"))
    migrate(conn, dataclasses.replace(SPAN_MIGRATIONS, steps=SPAN_MIGRATIONS.steps[:4]))
    conn.execute(
        "INSERT INTO quarantine VALUES (4, 1, 'k', 3, 'convert: old', 2, ?)", [request_bytes(ids)]
    )
    conn.close()
    server = start_server()
    listed = server.runtime.service.quarantine(Principal.operator())
    assert [(e["seq"], e["error"]) for e in listed["entries"]] == [(4, "convert: old")]
    tables = query(server.runtime.store, "SELECT table_name FROM duckdb_tables()")
    assert ("quarantine",) not in tables  # migration 5 dropped it, once it was empty
    server.runtime.service.replay_quarantined(Principal.operator(), None)
    assert sorted(server.stored()) == sorted(i.key for i in ids)
