"""The read-side queries over a real span store: search filters, cursors, one trace, spans
in Junjo AI Studio's shape, services, workflow runs, and what they refuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from junjo.features.spans.store import SpanStore
from junjo.features.traces import queries
from junjo.features.traces.queries import TraceFilters
from junjo.kernel.errors import InvalidInput, NotFound, PermissionDenied
from junjo.kernel.principal import Principal
from tests.support.otlp_builders import MS, T0
from tests.traces.conftest import WORKFLOW_END, Stored

OPERATOR = Principal.operator()
INGEST_KEY = Principal("api_key", "k1", "exporter", scope="ingest")


@pytest.fixture(scope="module")
def conn(stored: Stored) -> Iterator[Any]:
    with SpanStore.open_readonly(stored.settings.spans_db_path) as store:
        cursor = store.cursor()
        yield cursor
        cursor.close()


def search(conn: Any, **filters: Any) -> list[str]:
    page = queries.search_traces(conn, OPERATOR, TraceFilters(**filters))
    return [summary["trace_id"] for summary in page["traces"]]


def test_search_lists_every_trace_newest_first_as_summaries(conn, stored: Stored):
    page = queries.search_traces(conn, OPERATOR, TraceFilters())
    assert [t["trace_id"] for t in page["traces"]] == stored.newest_first()
    assert page["next_cursor"] is None
    by_id = {t["trace_id"]: t for t in page["traces"]}
    checkout = by_id[stored.ids["checkout"]]
    assert checkout == checkout | {
        "service_name": "shop",
        "root_name": "checkout",
        "root_is_complete": True,
        "start_time": "2023-11-14T22:13:20.000000+00:00",
        "duration_ns": 10 * MS,
        "status": "error",
        "span_count": 2,
        "error_count": 1,
        "llm_call_count": 0,
    }
    chat = by_id[stored.ids["chat"]]
    assert (chat["status"], chat["llm_call_count"]) == ("ok", 1)
    assert chat["tokens"] == {"prompt": 12, "completion": 30, "total": 42}
    orphan = by_id[stored.ids["orphan"]]
    assert (orphan["root_name"], orphan["root_is_complete"]) == ("late-child", False)
    assert by_id[stored.ids["workflow"]]["junjo_span_type"] == "workflow"


@pytest.mark.parametrize(
    ("filters", "labels"),
    [
        ({"service": "shop"}, ["orphan", "refund", "checkout"]),
        ({"service": "nobody"}, []),
        ({"errors_only": True}, ["checkout"]),
        ({"llm_only": True}, ["chat"]),
        ({"span_name": "charge-card"}, ["checkout"]),  # any span of the trace, not the root
        ({"attribute": ("customer.tier", "gold")}, ["checkout"]),
        ({"attribute": ("customer.tier", "silver")}, []),
        # Each on some span: the name is the root's, the attribute charge-card's.
        ({"span_name": "checkout", "attribute": ("customer.tier", "gold")}, ["checkout"]),
        ({"since_ns": T0 + 40 * MS, "until_ns": T0 + 80 * MS}, ["orphan", "refund"]),
        ({"service": "shop", "since_ns": T0 + MS}, ["orphan", "refund"]),
        ({"span_name": "charge-card", "since_ns": T0 + 20 * MS}, []),  # its trace is older
    ],
)
def test_search_filters(conn, stored: Stored, filters: dict, labels: list[str]):
    assert search(conn, **filters) == [stored.ids[label] for label in labels]


def test_search_by_trace_id_prefix_in_any_case(conn, stored: Stored):
    chat = stored.ids["chat"]
    assert search(conn, trace_id_prefix=chat[:6].upper()) == [chat]
    assert search(conn, trace_id_prefix=chat) == [chat]
    for bad in ("xyz", chat + "0"):
        with pytest.raises(InvalidInput, match="trace_id_prefix"):
            search(conn, trace_id_prefix=bad)


def test_search_for_traces_indexed_after_a_moment(conn, stored: Stored):
    found = search(conn, indexed_after_ns=stored.indexed_between)
    assert sorted(found) == sorted([stored.ids["tie-a"], stored.ids["tie-b"]])


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_follow_the_cursor_without_gaps_or_repeats(conn, stored: Stored, limit: int):
    """Two traces start at the same nanosecond: the cursor orders them by id too."""
    expected = stored.newest_first()
    seen, cursor = [], None
    for _ in range(-(-len(expected) // limit)):  # no empty page at the end
        page = queries.search_traces(conn, OPERATOR, TraceFilters(limit=limit, cursor=cursor))
        assert len(page["traces"]) <= limit
        seen += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
    assert seen == expected and cursor is None


def test_cursors_round_trip_and_foreign_ones_are_refused():
    trace_id = "ab" * 16
    for cursor in [
        queries.Cursor("start", True, T0, trace_id),
        queries.Cursor("tokens", False, 0, trace_id, before=True),
    ]:
        assert queries.decode_cursor(queries.encode_cursor(cursor)) == cursor
    forged = [
        "",
        "not-base64!",
        queries.encode_cursor(queries.Cursor("start", True, T0, "short")),
        queries.encode_cursor(queries.Cursor("start", True, T0, "AB" * 16)),
        queries.encode_cursor(queries.Cursor("colour", True, T0, trace_id)),
        "MTIzOmFiOmNk",  # "123:ab:cd"
        "_w",  # not UTF-8
    ]
    for cursor in forged:
        with pytest.raises(InvalidInput, match="cursor"):
            queries.decode_cursor(cursor)


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_search_limits_are_bounded(conn, limit: int):
    with pytest.raises(InvalidInput, match="limit: must be between 1 and 10000"):
        queries.search_traces(conn, OPERATOR, TraceFilters(limit=limit))


# Stored traces by duration: checkout 10 ms, chat 5, workflow 4, the others 1 ms each.
@pytest.mark.parametrize(
    ("sort", "descending", "first"),
    [
        ("duration", True, ["checkout", "chat", "workflow"]),
        ("spans", True, ["workflow"]),
        ("errors", True, ["checkout"]),
        ("llm", True, ["chat"]),
        ("tokens", True, ["chat"]),
        ("start", False, ["checkout", "chat", "refund"]),
        ("duration", False, []),  # five traces of 1 ms first: checked below
    ],
)
def test_search_sorts_by_a_column_with_the_trace_id_breaking_ties(
    conn, stored: Stored, sort: str, descending: bool, first: list[str]
):
    page = queries.search_traces(conn, OPERATOR, TraceFilters(sort=sort, descending=descending))
    traces = page["traces"]
    assert [t["trace_id"] for t in traces[: len(first)]] == [stored.ids[x] for x in first]
    column = {
        "start": lambda t: t["start_time_ns"],
        "duration": lambda t: t["duration_ns"],
        "spans": lambda t: t["span_count"],
        "errors": lambda t: t["error_count"],
        "llm": lambda t: t["llm_call_count"],
        "tokens": lambda t: t["tokens"]["total"] or 0,
    }[sort]
    keys = [(column(t), t["trace_id"]) for t in traces]
    assert keys == sorted(keys, reverse=descending)
    assert len(traces) == len(stored.ids)


@pytest.mark.parametrize(("sort", "descending"), [("start", True), ("duration", False)])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_go_forward_and_back_in_any_sort(conn, sort: str, descending: bool, limit: int):
    """Many traces share a duration: the cursor carries the sort value and the trace id."""

    def page(cursor: str | None) -> dict[str, Any]:
        filters = TraceFilters(sort=sort, descending=descending, limit=limit, cursor=cursor)
        return queries.search_traces(conn, OPERATOR, filters)

    whole = queries.search_traces(conn, OPERATOR, TraceFilters(sort=sort, descending=descending))
    everything = [t["trace_id"] for t in whole["traces"]]
    pages, cursor = [page(None)], None
    assert pages[0]["prev_cursor"] is None
    while (cursor := pages[-1]["next_cursor"]) is not None:
        pages.append(page(cursor))
    assert [t["trace_id"] for p in pages for t in p["traces"]] == everything
    # back from the last page, through each prev_cursor, to the first
    back = [pages[-1]]
    while (cursor := back[-1]["prev_cursor"]) is not None:
        back.append(page(cursor))
    assert [[t["trace_id"] for t in p["traces"]] for p in back[::-1]] == [
        [t["trace_id"] for t in p["traces"]] for p in pages
    ]


def test_a_cursor_of_another_sort_is_refused(conn):
    first = queries.search_traces(conn, OPERATOR, TraceFilters(limit=1))
    with pytest.raises(InvalidInput, match="cursor: it belongs to a list sorted another way"):
        search(conn, limit=1, sort="duration", cursor=first["next_cursor"])
    with pytest.raises(InvalidInput, match="sort: one of start, duration"):
        search(conn, sort="colour")


def test_min_duration_and_the_total_count(conn, stored: Stored):
    page = queries.search_traces(
        conn, OPERATOR, TraceFilters(min_duration_ns=4 * MS, with_total=True, limit=1)
    )
    assert [t["trace_id"] for t in page["traces"]] == [stored.ids["workflow"]]
    assert page["total"] == 3  # workflow, chat, checkout
    assert queries.search_traces(conn, OPERATOR, TraceFilters())["total"] is None


def test_as_of_then_updated_after_gives_what_was_indexed_since(conn, stored: Stored):
    page = queries.search_traces(conn, OPERATOR, TraceFilters())
    assert int(page["as_of"]) >= stored.indexed_between
    assert search(conn, updated_after_ns=int(page["as_of"])) == []
    since = search(conn, updated_after_ns=stored.indexed_between)
    assert sorted(since) == sorted([stored.ids["tie-a"], stored.ids["tie-b"]])


def test_one_trace_oldest_span_first_with_its_summary(conn, stored: Stored):
    detail = queries.trace_detail(conn, OPERATOR, stored.ids["checkout"])
    assert detail["summary"]["trace_id"] == stored.ids["checkout"]
    assert [s["name"] for s in detail["spans"]] == ["checkout", "charge-card"]
    card = detail["spans"][1]
    assert card["attributes"] == {"customer.tier": "gold"}  # JSON columns come back parsed
    assert card["events"][0]["attributes"]["exception.type"] == "PaymentError"
    assert (card["is_error"], card["is_llm"], card["parent_span_id"]) == (
        True,
        False,
        detail["spans"][0]["span_id"],
    )
    studio = queries.trace_spans(conn, OPERATOR, stored.ids["checkout"])
    assert [s["name"] for s in studio] == ["charge-card", "checkout"]  # Studio: newest first


def test_an_unknown_or_malformed_trace_id(conn):
    with pytest.raises(NotFound):
        queries.trace_detail(conn, OPERATOR, "0" * 32)
    assert queries.trace_spans(conn, OPERATOR, "0" * 32) == []
    for bad in ("abc", "A" * 32, "g" * 32, "0" * 33):
        with pytest.raises(InvalidInput, match="trace_id"):
            queries.trace_detail(conn, OPERATOR, bad)


def test_one_span_by_its_ids(conn, stored: Stored):
    trace_id = stored.ids["chat"]
    llm = next(s for s in queries.trace_detail(conn, OPERATOR, trace_id)["spans"] if s["is_llm"])
    found = queries.one_span(conn, OPERATOR, trace_id, llm["span_id"])
    assert found is not None and found["llm_model_name"] == "gpt-test"
    assert queries.one_span(conn, OPERATOR, trace_id, "0" * 16) is None
    with pytest.raises(InvalidInput, match="span_id"):
        queries.one_span(conn, OPERATOR, trace_id, "abc")


def test_studio_span_shape(conn, stored: Stored):
    detail = queries.trace_detail(conn, OPERATOR, stored.ids["checkout"])
    card = queries.studio_span(detail["spans"][1])
    assert card == card | {
        "name": "charge-card",
        "kind": "INTERNAL",
        "status_code": "2",
        "status_message": "card declined",
        "start_time": "2023-11-14T22:13:20.001000+00:00",
        "end_time": "2023-11-14T22:13:20.004000+00:00",
        "attributes_json": {"customer.tier": "gold"},
        "links_json": [],
        "trace_state": None,
        "resource_attributes_json": {"service.name": "shop"},
        "duration_ns": 3 * MS,
        "is_error": True,
    }
    assert card["events_json"][0]["name"] == "exception"
    assert [queries.kind_name(k) for k in (0, 3, 5, 6, -1)] == [
        "UNSPECIFIED",
        "CLIENT",
        "CONSUMER",
        "UNSPECIFIED",
        "UNSPECIFIED",
    ]


def test_services_with_counts_and_error_rates(conn):
    summaries = {s["service_name"]: s for s in queries.service_summaries(conn, OPERATOR)}
    assert list(summaries) == ["assistant", "flows", "shop", "tie"]
    shop = summaries["shop"]
    assert (shop["trace_count"], shop["span_count"], shop["error_trace_count"]) == (3, 4, 1)
    assert shop["error_rate"] == 0.3333
    assert shop["last_seen_ns"] == T0 + 61 * MS  # the orphan's end
    assert shop["last_seen"] == "2023-11-14T22:13:20.061000+00:00"
    assert (shop["llm_call_count"], shop["total_tokens"]) == (0, None)
    assistant = summaries["assistant"]
    assert (assistant["llm_call_count"], assistant["total_tokens"]) == (1, 42)
    assert queries.service_names(conn, OPERATOR) == ["assistant", "flows", "shop", "tie"]


def test_a_services_spans_roots_and_workflows(conn, stored: Stored):
    assert [s["name"] for s in queries.service_spans(conn, OPERATOR, "shop")] == [
        "late-child",
        "refund",
        "charge-card",
        "checkout",
    ]
    assert [s["name"] for s in queries.service_spans(conn, OPERATOR, "shop", limit=1)] == [
        "late-child"
    ]
    roots = queries.root_spans(conn, OPERATOR, "shop")
    assert [s["name"] for s in roots] == ["refund", "checkout"]  # the orphan has a parent id
    assert queries.root_spans(conn, OPERATOR, "shop", has_llm=True) == []
    assert [s["name"] for s in queries.root_spans(conn, OPERATOR, "assistant", has_llm=True)] == [
        "answer"
    ]
    assert [s["name"] for s in queries.workflow_spans(conn, OPERATOR, "flows")] == ["Ticket flow"]
    with pytest.raises(InvalidInput, match="limit"):
        queries.service_spans(conn, OPERATOR, "shop", limit=0)


def test_a_workflow_run_replays_to_its_end_state(conn, stored: Stored):
    trace_id = stored.ids["workflow"]
    owner = next(
        s
        for s in queries.trace_detail(conn, OPERATOR, trace_id)["spans"]
        if s["junjo_span_type"] == "workflow"
    )
    execution = queries.workflow_execution(conn, OPERATOR, trace_id, owner["span_id"])
    assert execution["span"]["name"] == "Ticket flow"
    assert [t["action"] for t in execution["transitions"]] == ["open", "close"]
    assert execution["store"]["replayed_state_end"] == WORKFLOW_END
    assert execution["integrity"]["verdict"] == "complete"
    with pytest.raises(NotFound):
        queries.workflow_execution(conn, OPERATOR, "0" * 32, owner["span_id"])
    with pytest.raises(InvalidInput, match="span_id"):
        queries.workflow_execution(conn, OPERATOR, trace_id, "nope")


def test_reading_needs_a_read_scope(conn, stored: Stored):
    """An ingest key may only write: every read refuses it below the HTTP door too."""
    trace_id = stored.ids["checkout"]
    reads = [
        lambda: queries.search_traces(conn, INGEST_KEY, TraceFilters()),
        lambda: queries.trace_detail(conn, INGEST_KEY, trace_id),
        lambda: queries.trace_spans(conn, INGEST_KEY, trace_id),
        lambda: queries.one_span(conn, INGEST_KEY, trace_id, "0" * 16),
        lambda: queries.service_summaries(conn, INGEST_KEY),
        lambda: queries.service_names(conn, INGEST_KEY),
        lambda: queries.service_spans(conn, INGEST_KEY, "shop"),
        lambda: queries.root_spans(conn, INGEST_KEY, "shop"),
        lambda: queries.workflow_spans(conn, INGEST_KEY, "flows"),
        lambda: queries.workflow_execution(conn, INGEST_KEY, trace_id, "0" * 16),
    ]
    for read in reads:
        with pytest.raises(PermissionDenied):
            read()
    reader = Principal("api_key", "k2", "ci", scope="read")
    assert queries.trace_detail(conn, reader, trace_id)["summary"]["trace_id"] == trace_id
