"""The query-string parameters of trace search, as the REST API and `junjo traces` take them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from junjo.features.traces.params import filters_from_params, parse_time
from junjo.features.traces.queries import TraceFilters
from junjo.kernel.errors import InvalidInput

NOW = 1_800_000_000_000_000_000
SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "ago_s"),
    [("15s", 15), ("30m", 1800), ("1h", 3600), (" 2 d ", 2 * 86400), ("1w", 604800)],
)
def test_a_duration_means_that_long_ago(value: str, ago_s: int):
    assert parse_time(value, "since", now_ns=NOW) == NOW - ago_s * SECOND


def test_absolute_times_in_nanoseconds_or_iso_8601_with_a_zone():
    assert parse_time("1700000000000000000", "since") == 1_700_000_000_000_000_000
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = int(moment.timestamp()) * SECOND
    assert parse_time("2026-01-02T03:04:05Z", "since") == expected
    assert parse_time("2026-01-02T05:04:05+02:00", "until") == expected
    assert parse_time("2026-01-02T03:04:05.5Z", "since") == expected + SECOND // 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-02T03:04:05", "since: the time needs a timezone"),
        ("yesterday", "since: use a duration like 1h, or an ISO-8601 time"),
        ("1y", "since: use a duration"),
        ("-1h", "since: use a duration"),
    ],
)
def test_times_that_mean_nothing_are_refused(value: str, message: str):
    with pytest.raises(InvalidInput, match=message):
        parse_time(value, "since")


def test_no_parameters_are_the_default_filters():
    assert filters_from_params({}) == TraceFilters()


def test_every_parameter_reaches_its_filter():
    filters = filters_from_params(
        {
            "service": "svc/a",
            "since": "1700000000000000000",
            "until": "2026-01-02T03:04:05Z",
            "errors": "true",
            "llm": "yes",
            "name": "fetch",
            "attr": "customer.tier=gold=plus",  # the first "=" splits
            "trace_id_prefix": "abcd",
            "indexed_after": "42",
            "limit": "7",
            "cursor": "c",
        }
    )
    assert filters == TraceFilters(
        service="svc/a",
        since_ns=1_700_000_000_000_000_000,
        until_ns=int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()) * SECOND,
        errors_only=True,
        llm_only=True,
        span_name="fetch",
        attribute=("customer.tier", "gold=plus"),
        trace_id_prefix="abcd",
        indexed_after_ns=42,
        limit=7,
        cursor="c",
    )
    assert filters_from_params({"errors": "0", "llm": "False"}) == TraceFilters()
    assert filters_from_params({"attr": "flag="}).attribute == ("flag", "")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service": ""}, "service: must not be empty"),
        ({"limit": ""}, "limit: must not be empty"),
        ({"limit": "ten"}, "limit: must be an integer"),
        ({"limit": " 5"}, "limit: must be an integer"),
        ({"limit": "1_000"}, "limit: must be an integer"),
        ({"errors": "maybe"}, "errors: must be true or false"),
        ({"llm": ""}, "llm: must not be empty"),
        ({"attr": "no-equals-sign"}, "attr: use key=value"),
        ({"attr": "=gold"}, "attr: use key=value"),
        ({"since": "soon"}, "since: use a duration"),
        ({"until": "2026-01-02"}, "until: the time needs a timezone"),
        ({"indexed_after": "later"}, "indexed_after: must be an integer"),
        ({"updated_after": "1h"}, "updated_after: must be an integer"),
        ({"min_duration": "fast"}, "min_duration: use a length like 250ms"),
        ({"min_duration": "-5ms"}, "min_duration: use a length"),
        ({"min_duration": "1.5"}, "min_duration: use a length"),
        ({"min_duration": ""}, "min_duration: must not be empty"),
        ({"sort": "colour"}, "sort: one of start, duration, spans, errors, llm, tokens"),
        ({"order": "up"}, "order: asc or desc"),
        ({"total": "some"}, "total: must be true or false"),
    ],
)
def test_a_present_parameter_must_be_valid(params: dict[str, str], message: str):
    with pytest.raises(InvalidInput, match=message):
        filters_from_params(params)


@pytest.mark.parametrize(
    ("value", "ns"),
    [("250ms", 250_000_000), ("1.5s", 1_500_000_000), ("2m", 120 * SECOND), ("7", 7),
     ("3 us", 3000), ("10µs", 10_000), ("1h", 3600 * SECOND)],
)  # fmt: skip
def test_min_duration_takes_a_length(value: str, ns: int):
    assert filters_from_params({"min_duration": value}).min_duration_ns == ns


def test_sort_order_total_and_updated_after():
    filters = filters_from_params(
        {"sort": "tokens", "order": "asc", "total": "true", "updated_after": "123"}
    )
    assert (filters.sort, filters.descending, filters.with_total) == ("tokens", False, True)
    assert filters.updated_after_ns == 123
