"""Read-side queries over the DuckDB span store: the one truth that the REST API, the web
UI and ``junjo traces`` all show.

Every function takes a DuckDB connection (a server cursor, or a read-only connection the
CLI opened) and the calling ``Principal``, checked here and not only at the HTTP door.
Spans come back in two shapes: ``SpanRecord`` dicts for domain logic (parsed JSON, ns
times), and the Junjo AI Studio span JSON for the compatible routes (``studio_span``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from junjo.features.llm_cost import trace_cost
from junjo.features.spans import RECORD_COLUMNS, SUMMARY_COLUMNS
from junjo.kernel.errors import InvalidInput, NotFound
from junjo.kernel.principal import Principal
from junjo.kernel.times import iso_time

KIND_NAMES = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
MAX_LIMIT = 10_000

# The span table's columns a record holds (declared with the table); a JSON column
# ``x_json`` is parsed into the record's ``x``.
_SPAN_FIELDS = RECORD_COLUMNS
# What a whole-span read adds to a record: the rest of an OTLP span's resource and scope.
_FULL_FIELDS = (
    *RECORD_COLUMNS,
    "resource_schema_url",
    "scope_attributes_json",
    "scope_dropped_attributes_count",
    "scope_schema_url",
)


# -- shapes -------------------------------------------------------------------------------


def _record(row: tuple[Any, ...], fields: tuple[str, ...] = _SPAN_FIELDS) -> dict[str, Any]:
    """A stored span as a plain dict: JSON columns parsed, ids as hex, times in ns."""
    record: dict[str, Any] = {}
    for field, value in zip(fields, row, strict=True):
        if field.endswith("_json"):
            record[field.removesuffix("_json")] = _loads(value)
        else:
            record[field] = value
    record["is_llm"] = bool(record["is_llm"])
    record["is_error"] = bool(record["is_error"])
    return record


def _loads(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def kind_name(kind: int) -> str:
    return KIND_NAMES[kind] if 0 <= kind < len(KIND_NAMES) else "UNSPECIFIED"


def studio_span(record: dict[str, Any], *, numeric_event_times: bool = False) -> dict[str, Any]:
    """The Junjo AI Studio span JSON (kind as the OTLP enum name, status as a string),
    plus a few fields of ours (ns times, flags) that its clients ignore.

    An event's ``timeUnixNano`` is the exact decimal string (a u64: a JavaScript number
    loses precision); ``numeric_event_times`` gives a JSON number instead, the contract of
    the Studio frontends, which validate it as a number and drop an event given a string.
    """
    events = record["events"] or []
    return {
        "trace_id": record["trace_id"],
        "span_id": record["span_id"],
        "parent_span_id": record["parent_span_id"],
        "service_name": record["service_name"],
        "name": record["name"],
        "kind": kind_name(record["kind"]),
        "start_time": iso_time(record["start_time_ns"]),
        "end_time": iso_time(record["end_time_ns"]),
        "status_code": str(record["status_code"]),
        "status_message": record["status_message"] or "",
        "attributes_json": record["attributes"] or {},
        "events_json": _numeric_event_times(events) if numeric_event_times else events,
        "links_json": record["links"] or [],
        "trace_flags": record["flags"] or 0,
        "trace_state": record["trace_state"] or None,
        "dropped_attributes_count": record["dropped_attributes_count"] or 0,
        "dropped_events_count": record["dropped_events_count"] or 0,
        "dropped_links_count": record["dropped_links_count"] or 0,
        "resource_attributes_json": record["resource_attributes"] or {},
        "resource_dropped_attributes_count": record["resource_dropped_attributes_count"] or 0,
        "scope_name": record["scope_name"],
        "scope_version": record["scope_version"],
        "start_time_ns": record["start_time_ns"],
        "end_time_ns": record["end_time_ns"],
        "duration_ns": record["duration_ns"],
        "junjo_span_type": record["junjo_span_type"],
        "is_llm": record["is_llm"],
        "is_error": record["is_error"],
        "llm_model_name": record["llm_model_name"],
        "llm_prompt_tokens": record["llm_prompt_tokens"],
        "llm_completion_tokens": record["llm_completion_tokens"],
        "llm_total_tokens": record["llm_total_tokens"],
    }


def _numeric_event_times(events: Any) -> Any:
    if not isinstance(events, list):
        return events
    return [_numeric_event_time(event) for event in events]


def _numeric_event_time(event: Any) -> Any:
    time = event.get("timeUnixNano") if isinstance(event, dict) else None
    if not isinstance(time, str) or not time.isdecimal():
        return event
    return {**event, "timeUnixNano": int(time)}


# -- validation ---------------------------------------------------------------------------


def check_trace_id(trace_id: str, name: str = "trace_id") -> str:
    if len(trace_id) != 32 or not _is_hex(trace_id):
        raise InvalidInput(f"{name}: must be 32 lowercase hex characters")
    return trace_id


def check_span_id(span_id: str, name: str = "span_id") -> str:
    if len(span_id) != 16 or not _is_hex(span_id):
        raise InvalidInput(f"{name}: must be 16 lowercase hex characters")
    return span_id


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)


def check_limit(limit: int, maximum: int = MAX_LIMIT) -> int:
    if not 1 <= limit <= maximum:
        raise InvalidInput(f"limit: must be between 1 and {maximum}")
    return limit


# -- Junjo AI Studio compatible reads ---------------------------------------------------


def service_names(conn: Any, actor: Principal) -> list[str]:
    actor.require_read()
    rows = conn.execute("SELECT DISTINCT service_name FROM spans ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _spans(
    conn: Any,
    where: str,
    params: list[Any],
    order: str,
    limit: int | None,
    fields: tuple[str, ...] = _SPAN_FIELDS,
) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(fields)} FROM spans WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_record(row, fields) for row in conn.execute(sql, params).fetchall()]


def service_spans(
    conn: Any, actor: Principal, service: str, limit: int = 100
) -> list[dict[str, Any]]:
    actor.require_read()
    return _spans(conn, "service_name = ?", [service], "start_time_ns DESC", check_limit(limit))


def root_spans(
    conn: Any, actor: Principal, service: str, *, has_llm: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    actor.require_read()
    where = "service_name = ? AND parent_span_id IS NULL"
    if has_llm:
        where += " AND trace_id IN (SELECT trace_id FROM traces WHERE llm_count > 0)"
    return _spans(conn, where, [service], "start_time_ns DESC", check_limit(limit))


def workflow_spans(
    conn: Any, actor: Principal, service: str, limit: int = 100
) -> list[dict[str, Any]]:
    actor.require_read()
    where = "service_name = ? AND junjo_span_type = 'workflow'"
    return _spans(conn, where, [service], "start_time_ns DESC", check_limit(limit))


def trace_spans(conn: Any, actor: Principal, trace_id: str) -> list[dict[str, Any]]:
    """Every span of a trace, newest first (Studio's order); [] when unknown."""
    actor.require_read()
    try:
        summary = _summary_or_404(conn, trace_id)
    except NotFound:
        return []
    return _spans_of(conn, summary)[::-1]


def one_span(conn: Any, actor: Principal, trace_id: str, span_id: str) -> dict[str, Any] | None:
    actor.require_read()
    return _span_by_id(conn, trace_id, span_id, _SPAN_FIELDS)


def _span_by_id(
    conn: Any, trace_id: str, span_id: str, fields: tuple[str, ...]
) -> dict[str, Any] | None:
    where, params = (
        "trace_id = ? AND span_id = ?",
        [check_trace_id(trace_id), check_span_id(span_id)],
    )
    found = _spans(conn, where, params, "start_time_ns", 1, fields)
    return found[0] if found else None


# -- trace search -------------------------------------------------------------------------


# Sortable columns of the traces list: the expression over the ``traces`` summary table.
# Tokens are NULL for a trace without LLM calls: they sort as 0.
SORTS = {
    "start": "start_time_ns",
    "duration": "(end_time_ns - start_time_ns)",
    "spans": "span_count",
    "errors": "error_count",
    "llm": "llm_count",
    "tokens": "coalesce(total_tokens, 0)",
}


@dataclass(frozen=True)
class TraceFilters:
    service: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    errors_only: bool = False
    llm_only: bool = False
    span_name: str | None = None
    attribute: tuple[str, str] | None = None  # (key, value): any span of the trace has it
    trace_id_prefix: str | None = None
    indexed_after_ns: int | None = None  # root arrived after: `junjo traces tail`
    updated_after_ns: int | None = None  # any span indexed after: the UI's live mode
    min_duration_ns: int | None = None
    sort: str = "start"  # a key of SORTS
    descending: bool = True
    with_total: bool = False  # also count every match (one more scan)
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the sort it belongs to, the sort value and trace id of the last
    (``before``: the first) trace shown. Pages stay stable while traces arrive."""

    sort: str
    descending: bool
    value: int
    trace_id: str
    before: bool = False  # a previous-page cursor: the traces before this one


def encode_cursor(cursor: Cursor) -> str:
    text = ":".join(
        [
            "p" if cursor.before else "n",
            cursor.sort,
            "d" if cursor.descending else "a",
            str(cursor.value),
            cursor.trace_id,
        ]
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        way, sort, order, value, trace_id = base64.urlsafe_b64decode(padded).decode().split(":")
        if way not in ("n", "p") or sort not in SORTS or order not in ("a", "d"):
            raise ValueError(cursor)
        return Cursor(sort, order == "d", int(value), check_trace_id(trace_id), way == "p")
    except (ValueError, InvalidInput, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor: not a cursor this server issued") from exc


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise InvalidInput(f"sort: one of {', '.join(SORTS)}")
    return sort


def _search_clauses(filters: TraceFilters) -> tuple[list[str], list[Any]]:
    """WHERE clauses over the ``traces`` summary table (one row per trace), cursor aside."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if filters.service:
        where.append("service_name = ?")
        params.append(filters.service)
    if filters.since_ns is not None:
        where.append("start_time_ns >= ?")
        params.append(filters.since_ns)
    if filters.until_ns is not None:
        where.append("start_time_ns < ?")
        params.append(filters.until_ns)
    if filters.trace_id_prefix:
        prefix = filters.trace_id_prefix.lower()
        if len(prefix) > 32 or not _is_hex(prefix):
            raise InvalidInput("trace_id_prefix: must be hex")
        where.append("starts_with(trace_id, ?)")
        params.append(prefix)
    if filters.indexed_after_ns is not None:  # `tail`: traces whose root arrived since
        where.append("root_indexed_at_ns > ?")
        params.append(filters.indexed_after_ns)
    if filters.updated_after_ns is not None:  # live mode: new traces and ones that grew
        where.append("last_indexed_at_ns > ?")
        params.append(filters.updated_after_ns)
    if filters.min_duration_ns is not None:
        where.append("end_time_ns - start_time_ns >= ?")
        params.append(filters.min_duration_ns)
    if filters.errors_only:
        where.append("error_count > 0")
    if filters.llm_only:
        where.append("llm_count > 0")
    for span_where, span_params in _span_filters(filters):
        where.append(f"trace_id IN (SELECT trace_id FROM spans WHERE {span_where})")
        params += span_params
    return where, params


def _span_filters(filters: TraceFilters) -> list[tuple[str, list[Any]]]:
    """Filters on some span of the trace, each on its own (a name on one span and an
    attribute on another both match): a scan of spans each, bounded by the time window
    when one is given."""
    found: list[tuple[str, list[Any]]] = []
    if filters.span_name:
        found.append(("name = ?", [filters.span_name]))
    if filters.attribute:
        key, value = filters.attribute
        found.append(
            ("json_extract_string(attributes_json, ?) = ?", ["$." + json.dumps(key), value])
        )
    if filters.since_ns is not None:
        found = [
            (f"{where} AND start_time_ns >= ?", [*params, filters.since_ns])
            for where, params in found
        ]
    return found


_SUMMARY_SQL = f"SELECT {SUMMARY_COLUMNS} FROM traces"
_SUMMARY_FIELDS = [name.strip() for name in SUMMARY_COLUMNS.split(",")]


def search_traces(conn: Any, actor: Principal, filters: TraceFilters) -> dict[str, Any]:
    """A page of trace summaries in the filters' sort (newest first by default), the cursors
    of the next and previous pages, ``as_of`` (pass it back as ``updated_after_ns`` to get
    what was indexed since; ns as a decimal string: a JavaScript number is not exact at this
    size) and, when asked, how many traces match in all."""
    actor.require_read()
    limit = check_limit(filters.limit, MAX_LIMIT)
    key = SORTS[check_sort(filters.sort)]
    # Read first: a write committed after it carries a later time, so a poll from here
    # misses nothing (it may see a trace twice; the UI keeps one row per trace).
    (as_of,) = conn.execute("SELECT coalesce(max(last_indexed_at_ns), 0) FROM traces").fetchone()
    where, params = _search_clauses(filters)
    total = None
    if filters.with_total:
        count_sql = f"SELECT count(*) FROM traces WHERE {' AND '.join(where)}"
        (total,) = conn.execute(count_sql, params).fetchone()
    cursor = decode_cursor(filters.cursor) if filters.cursor else None
    if cursor and (cursor.sort, cursor.descending) != (filters.sort, filters.descending):
        raise InvalidInput("cursor: it belongs to a list sorted another way; start again")
    backward = bool(cursor and cursor.before)
    fetch_descending = filters.descending != backward  # a previous page is read in reverse
    if cursor:
        op = "<" if fetch_descending else ">"
        where.append(f"({key} {op} ? OR ({key} = ? AND trace_id {op} ?))")
        params += [cursor.value, cursor.value, cursor.trace_id]
    direction = "DESC" if fetch_descending else "ASC"
    sql = (
        f"SELECT {SUMMARY_COLUMNS}, {key} FROM traces WHERE {' AND '.join(where)}"
        f" ORDER BY {key} {direction}, trace_id {direction} LIMIT {limit + 1}"
    )
    rows = conn.execute(sql, params).fetchall()
    page, more = rows[:limit], len(rows) > limit
    if backward:
        page.reverse()

    def at(row: tuple[Any, ...], before: bool) -> str:
        found = Cursor(filters.sort, filters.descending, int(row[-1]), row[0], before)
        return encode_cursor(found)

    # Before a backward page's cursor lies the trace it was made from; after a forward
    # page's, the trace it was made from (unless it was deleted, which does not happen).
    has_next = more if not backward else True
    has_prev = more if backward else cursor is not None
    return {
        "traces": [trace_summary(row[:-1]) for row in page],
        "next_cursor": at(page[-1], False) if page and has_next else None,
        "prev_cursor": at(page[0], True) if page and has_prev else None,
        "total": total,
        "as_of": str(as_of),
    }


def trace_summary(row: tuple[Any, ...]) -> dict[str, Any]:
    """A ``traces`` row as the API's trace summary."""
    t = dict(zip(_SUMMARY_FIELDS, row, strict=True))
    return {
        "trace_id": t["trace_id"],
        "service_name": t["service_name"],
        "root_span_id": t["root_span_id"],
        "root_name": t["root_name"],
        "root_is_complete": t["root_parent_span_id"] is None,  # False: root not stored yet
        "junjo_span_type": t["junjo_span_type"],
        "start_time": iso_time(t["start_time_ns"]),
        "start_time_ns": t["start_time_ns"],
        "end_time_ns": t["end_time_ns"],
        "duration_ns": max(0, t["end_time_ns"] - t["start_time_ns"]),
        "status": "error" if t["error_count"] else "ok",
        "span_count": t["span_count"],
        "error_count": t["error_count"],
        "llm_call_count": t["llm_count"],
        "tokens": {
            "prompt": t["prompt_tokens"],
            "completion": t["completion_tokens"],
            "total": t["total_tokens"],
        },
        "indexed_at_ns": t["root_indexed_at_ns"] or t["last_indexed_at_ns"],
    }


def trace_detail(conn: Any, actor: Principal, trace_id: str) -> dict[str, Any]:
    """A whole trace, oldest span first, with its summary; NotFound when unknown."""
    actor.require_read()
    summary = _summary_or_404(conn, trace_id)
    return {"summary": summary, "spans": _spans_of(conn, summary)}


def _summary_or_404(conn: Any, trace_id: str) -> dict[str, Any]:
    row = conn.execute(f"{_SUMMARY_SQL} WHERE trace_id = ?", [check_trace_id(trace_id)]).fetchone()
    if row is None:
        raise NotFound("Trace not found")
    return trace_summary(row)


def _spans_of(
    conn: Any, summary: dict[str, Any], fields: tuple[str, ...] = _SPAN_FIELDS
) -> list[dict[str, Any]]:
    """Every span of a summarized trace, oldest first. Each starts between the trace's
    earliest start and latest end: a bound that lets DuckDB skip other times' row groups
    (spans has no index on trace_id)."""
    where, params = _in_trace(summary)
    return _spans(conn, where, params, "start_time_ns, span_id", None, fields)


def _in_trace(summary: dict[str, Any]) -> tuple[str, list[Any]]:
    """The WHERE clause of a summarized trace's spans (see ``_spans_of``)."""
    return (
        "trace_id = ? AND start_time_ns BETWEEN ? AND ?",
        [summary["trace_id"], summary["start_time_ns"], summary["end_time_ns"]],
    )


# For the workflow run views (runs.py): a trace's summary row, its spans, a JSON column;
# for exports (export.py): whole span records.
FULL_FIELDS = _FULL_FIELDS
record = _record
summary_or_404 = _summary_or_404
spans_of = _spans_of
loads_json = _loads


def service_summaries(conn: Any, actor: Principal) -> list[dict[str, Any]]:
    actor.require_read()
    rows = conn.execute(
        """SELECT service_name, sum(span_count), count(*), count(*) FILTER (WHERE error_count > 0),
                  max(end_time_ns), sum(llm_count), sum(total_tokens)
           FROM traces GROUP BY service_name ORDER BY service_name"""
    ).fetchall()
    return [
        {
            "service_name": name,
            "span_count": int(spans),
            "trace_count": traces,
            "error_trace_count": error_traces,
            "error_rate": round(error_traces / traces, 4) if traces else 0.0,
            "last_seen": iso_time(last_ns),
            "last_seen_ns": last_ns,
            "llm_call_count": int(llm_calls),
            "total_tokens": int(tokens) if tokens is not None else None,
        }
        for name, spans, traces, error_traces, last_ns, llm_calls, tokens in rows
    ]


def workflow_execution(conn: Any, actor: Principal, trace_id: str, span_id: str) -> dict[str, Any]:
    """A workflow or subflow run (or an agent's application store): graph, node→span mapping,
    replayed store transitions."""
    from junjo.features.workflows import build_workflow_execution

    actor.require_read()
    check_span_id(span_id)
    return build_workflow_execution(_spans_of(conn, _summary_or_404(conn, trace_id)), span_id)


# -- the trace view (web UI) ---------------------------------------------------------------
# A 10,000-span trace with every attribute is tens of MB of JSON: the trace view loads its
# outline (the tree and the timing bars), then one span's whole record when it is selected,
# and asks the server to search the attribute values it does not hold (docs/web.md).

_OUTLINE_SQL = """
SELECT span_id, parent_span_id, name, start_time_ns, end_time_ns, status_code, kind,
       service_name, is_llm, is_error, contains(events_json, '{"name":"exception"'),
       junjo_span_type, llm_model_name, llm_prompt_tokens, llm_completion_tokens
FROM spans WHERE """


def trace_outline(conn: Any, actor: Principal, trace_id: str) -> dict[str, Any]:
    """The trace's summary and each span, oldest first, as ``{id, parent, name, start,
    duration, status, error, exception, llm, kind, service, type}``: ``start`` in ns after
    the trace's ``start_time_ns`` (a JavaScript number stays exact there), ``status`` the
    OTLP code (0 unset, 1 ok, 2 error), ``type`` the Junjo span type or null."""
    actor.require_read()
    summary = _summary_or_404(conn, trace_id)
    where, params = _in_trace(summary)
    sql = f"{_OUTLINE_SQL}{where} ORDER BY start_time_ns, span_id"
    rows = conn.execute(sql, params).fetchall()
    origin = min([summary["start_time_ns"], *(row[3] for row in rows)])
    spans = [
        {
            "id": span_id,
            "parent": parent,
            "name": name,
            "start": start - origin,
            "duration": end - start,
            "status": status,
            "error": bool(is_error),
            "exception": bool(has_exception),
            "llm": bool(is_llm),
            "kind": kind_name(kind),
            "service": service,
            "type": span_type,
        }
        for (span_id, parent, name, start, end, status, kind, service, is_llm, is_error,
             has_exception, span_type, *_) in rows
    ]  # fmt: skip
    llm_calls = (
        {"is_llm": row[8], "llm_model_name": row[12], "llm_prompt_tokens": row[13],
         "llm_completion_tokens": row[14]}
        for row in rows
    )  # fmt: skip
    summary = {**summary, "cost": trace_cost(llm_calls)}
    return {"summary": summary, "start_time_ns": str(origin), "spans": spans}


def trace_span(conn: Any, actor: Principal, trace_id: str, span_id: str) -> dict[str, Any]:
    """One span's whole record (scope attributes and schema URLs too); NotFound if it is not
    stored."""
    actor.require_read()
    found = _span_by_id(conn, trace_id, span_id, _FULL_FIELDS)
    if found is None:
        raise NotFound("Span not found")
    return found


def trace_matches(conn: Any, actor: Principal, trace_id: str, text: str) -> list[str]:
    """The ids of the trace's spans (oldest first) whose name, id, status message, attribute
    or event (keys and values) contains ``text``, ignoring case."""
    actor.require_read()
    summary = _summary_or_404(conn, trace_id)
    needle = text.lower()
    # The JSON columns hold strings escaped: look for the escaped form there.
    escaped = json.dumps(needle, ensure_ascii=False)[1:-1]
    where, params = _in_trace(summary)
    sql = f"""SELECT span_id FROM spans WHERE {where} AND (
        contains(lower(name), ?) OR span_id = ? OR contains(lower(status_message), ?)
        OR contains(lower(attributes_json), ?) OR contains(lower(events_json), ?)
    ) ORDER BY start_time_ns, span_id"""
    rows = conn.execute(sql, [*params, needle, needle, needle, escaped, escaped]).fetchall()
    return [row[0] for row in rows]


def trace_export_spans(conn: Any, actor: Principal, trace_id: str) -> list[dict[str, Any]]:
    """Every span of the trace, whole (as ``trace_span``), oldest first; NotFound if unknown."""
    actor.require_read()
    return _spans_of(conn, _summary_or_404(conn, trace_id), _FULL_FIELDS)
