"""`junjo traces export --since ...`: OTLP/JSON lines that a second server ingests into the
same spans, Parquet of the span rows, and the filters (time range, service)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.maintenance.conftest import DAY, NOW, indexed, send, trace_request
from tests.support.cli import run_cli
from tests.support.export import API_KEY_HEADER, grpc_exporter, tracer_provider
from tests.support.keys import make_keys
from tests.support.otlp_builders import make_event
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def sorted_lines(path: Path) -> list[str]:
    """Each line's request with its spans in a stable order (a store gives no order)."""
    out = []
    for line in path.read_text().splitlines():
        request = json.loads(line)
        for resource in request["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                scope["spans"].sort(key=lambda s: s["spanId"])
        out.append(json.dumps(request, sort_keys=True))
    return sorted(out)


def test_export_round_trips_through_ingestion_into_a_second_server(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    keys, other = make_keys(first), make_keys(second)
    old, old_request = trace_request(NOW - 40 * DAY, NOW - 40 * DAY + 10**9, 3)
    recent, recent_request = trace_request(NOW - DAY, NOW - DAY + 10**9, 4, service="billing")
    span = recent_request.resource_spans[0].scope_spans[0].spans[1]
    span.events.append(make_event("exception", NOW - DAY, {"exception.message": "boom ✓"}))
    span.attributes.add(key="big", value={"int_value": 2**62})
    with ServerProcess(first) as server, ServerProcess(second) as target:
        send(server, keys.ingest, [old_request, recent_request])
        provider = tracer_provider("sdk-svc", grpc_exporter(server.grpc_target, keys.ingest))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("outer") as outer:
            outer.set_attribute("list", [1, 2, 3])
            with tracer.start_as_current_span("inner"):
                pass
        provider.shutdown()
        indexed(server, keys.read, 9)

        out = tmp_path / "recent.jsonl"
        result = run_cli(first, "traces", "export", "--since", "30d", "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert "exported 2 traces" in result.stderr
        lines = out.read_text().splitlines()
        assert len(lines) == 2 and old not in out.read_text()
        assert recent in out.read_text()

        # Into the second server, as any OTLP/HTTP JSON client sends it.
        headers = {API_KEY_HEADER: other.ingest, "Content-Type": "application/json"}
        for line in lines:
            response = httpx.post(target.url + "/v1/traces", content=line, headers=headers)
            assert response.status_code == 200, response.text
        indexed(target, other.read, 6)
        back = tmp_path / "back.jsonl"
        again = run_cli(second, "traces", "export", "--since", "30d", "-o", str(back))
        assert again.returncode == 0, again.stderr
        assert sorted_lines(back) == sorted_lines(out), "the same spans, field for field"

        billing = run_cli(first, "traces", "export", "--since", "60d", "--service", "billing")
        assert billing.returncode == 0
        assert [json.loads(x)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
                for x in billing.stdout.splitlines()] == [recent]  # fmt: skip
        bad = run_cli(first, "traces", "export", "--since", "1d", "--format", "csv", "-o", "x")
        assert bad.returncode == 2

    # No server: the files, as Parquet.
    table = tmp_path / "spans.parquet"
    result = run_cli(first, "traces", "export", "--since", "60d", "--format", "parquet",
                     "-o", str(table))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "exported 3 traces" in result.stderr
    rows = duckdb.sql(f"SELECT trace_id, span_id, name FROM '{table}'").fetchall()
    assert len(rows) == 9 and {r[0] for r in rows} >= {old, recent}
    columns = {c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM '{table}'").fetchall()}
    assert {"attributes_json", "events_json", "start_time_ns", "service_name"} <= columns
    assert "wal_seq" not in columns
