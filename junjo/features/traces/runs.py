"""Workflow runs for the web UI's debugger: one run's view (built once, kept for the next
clicks), one state change, the state when a span started, the runs of a workflow and their
neighbours, two runs compared. Reads through ``queries``; the reconstruction is
``junjo.features.workflows`` (the same that ``junjo traces show --state`` prints).

A run's view holds every replayed state (path-copied: untouched subtrees are shared), so
stepping through 10,000 changes asks for one change at a time without replaying again. The
cache key has the trace's span count and last indexing time: a trace that grew is rebuilt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from junjo.features.traces import queries
from junjo.kernel.errors import InvalidInput
from junjo.kernel.principal import Principal
from junjo.kernel.times import iso_time

if TYPE_CHECKING:
    from junjo.features.workflows import RunView

CACHED_RUNS = 4
MAX_RUNS = 500
_cache: OrderedDict[tuple[Any, ...], RunView] = OrderedDict()
_lock = threading.Lock()


def run_view(conn: Any, trace_id: str, span_id: str) -> RunView:
    from junjo.features.workflows import RunView

    queries.check_span_id(span_id)
    summary = queries.summary_or_404(conn, trace_id)
    key = (
        trace_id,
        span_id,
        summary["span_count"],
        summary["end_time_ns"],
        summary["indexed_at_ns"],
    )
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    view = RunView(queries.spans_of(conn, summary), span_id)
    with _lock:
        _cache[key] = view
        while len(_cache) > CACHED_RUNS:
            _cache.popitem(last=False)
    return view


def workflow_run(conn: Any, actor: Principal, trace_id: str, span_id: str) -> dict[str, Any]:
    """The run's view (no states) and the previous and next runs of the same workflow."""
    actor.require_read()
    found = run_view(conn, trace_id, span_id).summary()
    span = found["span"]
    found["neighbours"] = _neighbours(conn, span)
    return found


def workflow_change(
    conn: Any, actor: Principal, trace_id: str, span_id: str, index: int
) -> dict[str, Any]:
    actor.require_read()
    return run_view(conn, trace_id, span_id).change(index)


def workflow_state_at(
    conn: Any, actor: Principal, trace_id: str, span_id: str, at_span: str
) -> dict[str, Any]:
    actor.require_read()
    queries.check_span_id(at_span, "span")
    return run_view(conn, trace_id, span_id).state_at_span(at_span)


_RUN_SQL = """SELECT trace_id, span_id, name, service_name, start_time_ns, end_time_ns,
           status_code, status_message, attributes_json
    FROM spans WHERE service_name = ? AND name = ? AND junjo_span_type = 'workflow'"""


def _run_row(row: tuple[Any, ...]) -> dict[str, Any]:
    trace_id, span_id, name, service, start, end, status, message, attrs_json = row
    attrs = queries.loads_json(attrs_json) or {}
    node_count = attrs.get("junjo.workflow.node.count")
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": name,
        "service_name": service,
        "start_time_ns": start,
        "start_time": iso_time(start),
        "end_time_ns": end,
        "duration_ns": max(0, end - start),
        "status": "error"
        if status == 2
        else "cancelled"
        if attrs.get("junjo.cancelled") is True
        else "ok",
        "status_message": message or None,
        "node_count": int(node_count)
        if isinstance(node_count, int | str) and str(node_count).isdigit()
        else None,
    }


def workflow_runs(
    conn: Any, actor: Principal, service: str, name: str, limit: int = 100
) -> dict[str, Any]:
    """The runs of one workflow (top-level workflow spans of that name in that service),
    newest first."""
    actor.require_read()
    if not service or not name:
        raise InvalidInput("service and name are required")
    limit = queries.check_limit(limit, MAX_RUNS)
    rows = conn.execute(
        f"{_RUN_SQL} ORDER BY start_time_ns DESC, span_id LIMIT {limit}", [service, name]
    ).fetchall()
    return {"service": service, "name": name, "runs": [_run_row(r) for r in rows]}


def workflows(conn: Any, actor: Principal, service: str | None = None) -> list[dict[str, Any]]:
    """Each workflow (service and name of top-level workflow spans): how many runs, how many
    failed, the last one."""
    actor.require_read()
    where = "junjo_span_type = 'workflow'" + (" AND service_name = ?" if service else "")
    rows = conn.execute(
        f"""SELECT service_name, name, count(*), count(*) FILTER (WHERE status_code = 2),
                   max(start_time_ns), arg_max(trace_id, start_time_ns),
                   arg_max(span_id, start_time_ns)
            FROM spans WHERE {where} GROUP BY service_name, name
            ORDER BY max(start_time_ns) DESC""",
        [service] if service else [],
    ).fetchall()
    return [
        {
            "service_name": service_name,
            "name": name,
            "run_count": runs,
            "failed_count": failed,
            "last_run_ns": last,
            "last_run": {"trace_id": trace_id, "span_id": span_id},
        }
        for service_name, name, runs, failed, last, trace_id, span_id in rows
    ]


def _neighbours(conn: Any, span: dict[str, Any]) -> dict[str, Any]:
    """The runs of the same workflow just before and just after this one."""
    if span["span_type"] != "workflow" or not span["service_name"]:
        return {"previous": None, "next": None}
    params = [span["service_name"], span["name"], span["start_time_ns"], span["span_id"]]
    before = conn.execute(
        f"{_RUN_SQL} AND (start_time_ns, span_id) < (?, ?) "
        "ORDER BY start_time_ns DESC, span_id DESC LIMIT 1",
        params,
    ).fetchone()
    after = conn.execute(
        f"{_RUN_SQL} AND (start_time_ns, span_id) > (?, ?) ORDER BY start_time_ns, span_id LIMIT 1",
        params,
    ).fetchone()
    return {
        "previous": _run_row(before) if before else None,
        "next": _run_row(after) if after else None,
    }


def compare_runs(
    conn: Any,
    actor: Principal,
    a: tuple[str, str],
    b: tuple[str, str],
    index_a: int | None = None,
    index_b: int | None = None,
) -> dict[str, Any]:
    from junjo.features.workflows import compare_runs as compare

    actor.require_read()
    for side, (trace_id, span_id) in (("a", a), ("b", b)):
        queries.check_trace_id(trace_id, f"{side}_trace")
        queries.check_span_id(span_id, f"{side}_span")
    view_a = run_view(conn, *a)
    view_b = run_view(conn, *b)
    if view_a is view_b and index_a == index_b:
        raise InvalidInput("compare two different runs (or two steps of one)")
    return compare(view_a, view_b, index_a, index_b)
