"""Traces out of the store, for loading elsewhere: ``junjo traces export --since ...`` and
``GET /api/v1/export``.

Which traces: those that started in ``[since, until)``, of one service if asked (the trace's
service, as the traces list shows it). Two formats:

- ``otlp-json``: one OTLP/JSON ``ExportTraceServiceRequest`` a line, one trace each (JSON
  Lines, as the OpenTelemetry Collector's file exporter writes and its ``otlpjsonfile``
  receiver reads); each line is what ``POST /v1/traces`` (``application/json``) of any OTLP
  receiver takes, this one included. The same ``otlp_json.export_request`` as the one-trace
  export and the web UI's Download.
- ``parquet``: the stored span rows, every column of ``schema.SPAN_TABLE`` but this server's
  own bookkeeping (``wal_seq``, ``api_key_id``), written by DuckDB's ``COPY ... TO``
  (attributes, events, links as JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from junjo.features.traces import otlp_json, queries
from junjo.kernel.errors import InvalidInput
from junjo.kernel.principal import Principal

FORMATS = ("otlp-json", "parquet")
_PAGE = 500  # traces whose spans are read in one query


@dataclass(frozen=True)
class ExportFilter:
    since_ns: int
    until_ns: int | None = None
    service: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The traces chosen, as a WHERE clause on the summary table."""
        clauses: list[str] = ["start_time_ns >= ?"]
        params: list[Any] = [self.since_ns]
        if self.until_ns is not None:
            clauses.append("start_time_ns < ?")
            params.append(self.until_ns)
        if self.service is not None:
            clauses.append("service_name = ?")
            params.append(self.service)
        return " AND ".join(clauses), params


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise InvalidInput(f"format: use one of {', '.join(FORMATS)}")
    return value


def write(conn: Any, actor: Principal, chosen: ExportFilter, fmt: str, out: Path) -> int:
    """Write the chosen traces to ``out`` in ``fmt``; returns how many traces."""
    actor.require_read()
    if check_format(fmt) == "parquet":
        return _parquet(conn, chosen, out)
    count = 0
    with open(out, "w", encoding="utf-8") as handle:
        for spans in _traces(conn, chosen):
            _line(handle, otlp_json.export_request(spans))
            count += 1
    return count


def _line(handle: IO[str], document: dict[str, Any]) -> None:
    handle.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    handle.write("\n")


def _traces(conn: Any, chosen: ExportFilter) -> Iterator[list[dict[str, Any]]]:
    """Each chosen trace's spans (whole records), trace by trace, oldest trace first."""
    where, params = chosen.where()
    after: tuple[int, str] = (-1, "")
    while True:
        page = conn.execute(
            "SELECT trace_id, start_time_ns, end_time_ns FROM traces"
            f" WHERE {where} AND (start_time_ns, trace_id) > (?, ?)"
            f" ORDER BY start_time_ns, trace_id LIMIT {_PAGE}",
            [*params, *after],
        ).fetchall()
        if not page:
            return
        after = (page[-1][1], page[-1][0])
        by_trace: dict[str, list[dict[str, Any]]] = {row[0]: [] for row in page}
        low, high = min(row[1] for row in page), max(row[2] for row in page)
        fields = queries.FULL_FIELDS
        rows = conn.execute(
            f"SELECT {', '.join(fields)} FROM spans WHERE list_contains(?, trace_id)"
            " AND start_time_ns BETWEEN ? AND ? ORDER BY start_time_ns, span_id",
            [list(by_trace), low, high],
        ).fetchall()
        at = fields.index("trace_id")
        for row in rows:
            by_trace[row[at]].append(queries.record(row, fields))
        yield from (spans for spans in by_trace.values() if spans)


def _parquet(conn: Any, chosen: ExportFilter, out: Path) -> int:
    where, params = chosen.where()
    (count,) = conn.execute(f"SELECT count(*) FROM traces WHERE {where}", params).fetchone()
    target = str(out).replace("'", "''")
    conn.execute(
        "COPY (SELECT * EXCLUDE (wal_seq, api_key_id) FROM spans"
        f" WHERE trace_id IN (SELECT trace_id FROM traces WHERE {where})"
        f" ORDER BY start_time_ns, trace_id, span_id) TO '{target}' (FORMAT parquet)",
        params,
    )
    return int(count)
