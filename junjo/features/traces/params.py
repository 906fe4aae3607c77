"""Query-string parameters for trace search, shared by the HTTP API and the CLI client.

Both doors take the same strings (``since=1h``, ``errors=true``, ``attr=key=value``), so
``junjo traces list --since 1h`` means the same thing locally and against a server.
Present parameters must be valid (``junjo.kernel.params``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime

from junjo.features.traces.queries import TraceFilters, check_sort
from junjo.kernel.errors import InvalidInput
from junjo.kernel.params import bool_param, int_param, parse_int, query_value

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A span length: 250ms, 1.5s, 2m; a bare integer is nanoseconds (as every time here is).
_LENGTH = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(ns|us|µs|ms|s|m|h)?$")
_UNIT_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def parse_time(value: str, name: str, now_ns: int | None = None) -> int:
    """``1h`` (ago), an ISO-8601 timestamp, or nanoseconds since the epoch → ns."""
    value = value.strip()
    now_ns = time.time_ns() if now_ns is None else now_ns
    if match := _DURATION.match(value):
        return now_ns - int(match.group(1)) * _UNIT_SECONDS[match.group(2)] * 1_000_000_000
    if re.fullmatch(r"[0-9]+", value):
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{name}: use a duration like 1h, or an ISO-8601 time") from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"{name}: the time needs a timezone (e.g. Z)")
    return int(moment.timestamp() * 1_000_000_000)


def parse_length(value: str, name: str) -> int:
    """``250ms``, ``1.5s``, ``2m``, or integer nanoseconds → ns."""
    match = _LENGTH.match(value.strip())
    if match is None or (match.group(2) is None and "." in match.group(1)):
        raise InvalidInput(f"{name}: use a length like 250ms, 1.5s or 2m")
    return round(float(match.group(1)) * _UNIT_NS[match.group(2) or "ns"])


def _order(value: str | None) -> bool:
    """True for descending (the default)."""
    if value is None or value == "desc":
        return True
    if value == "asc":
        return False
    raise InvalidInput("order: asc or desc")


def filters_from_params(params: Mapping[str, str]) -> TraceFilters:
    def text(name: str) -> str | None:
        return query_value(params, name)

    attribute = None
    if (attr := text("attr")) is not None:
        key, sep, value = attr.partition("=")
        if not sep or not key:
            raise InvalidInput("attr: use key=value")
        attribute = (key, value)
    since, until, indexed_after = text("since"), text("until"), text("indexed_after")
    updated_after, min_duration = text("updated_after"), text("min_duration")
    return TraceFilters(
        service=text("service"),
        since_ns=parse_time(since, "since") if since is not None else None,
        until_ns=parse_time(until, "until") if until is not None else None,
        errors_only=bool_param(params, "errors"),
        llm_only=bool_param(params, "llm"),
        span_name=text("name"),
        attribute=attribute,
        trace_id_prefix=text("trace_id_prefix"),
        indexed_after_ns=parse_int(indexed_after, "indexed_after", 0)
        if indexed_after is not None
        else None,
        updated_after_ns=parse_int(updated_after, "updated_after", 0)
        if updated_after is not None
        else None,
        min_duration_ns=parse_length(min_duration, "min_duration")
        if min_duration is not None
        else None,
        sort=check_sort(text("sort") or "start"),
        descending=_order(text("order")),
        with_total=bool_param(params, "total"),
        limit=int_param(params, "limit", 50),
        cursor=text("cursor"),
    )
