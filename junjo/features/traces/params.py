"""Query-string parameters for trace search, shared by the HTTP API and the CLI client.

Both doors take the same strings (``since=1h``, ``errors=true``, ``attr=key=value``), so
``junjo traces list --since 1h`` means the same thing locally and against a server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime

from junjo.errors import InvalidInput
from junjo.features.traces.queries import TraceFilters

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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


def parse_bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise InvalidInput(f"{name}: must be true or false")


def parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: must be an integer") from exc


def filters_from_params(params: Mapping[str, str]) -> TraceFilters:
    attribute = None
    if params.get("attr"):
        key, sep, value = params["attr"].partition("=")
        if not sep or not key:
            raise InvalidInput("attr: use key=value")
        attribute = (key, value)
    return TraceFilters(
        service=params.get("service") or None,
        since_ns=parse_time(params["since"], "since") if params.get("since") else None,
        until_ns=parse_time(params["until"], "until") if params.get("until") else None,
        errors_only=parse_bool(params.get("errors"), "errors"),
        llm_only=parse_bool(params.get("llm"), "llm"),
        span_name=params.get("name") or None,
        attribute=attribute,
        trace_id_prefix=params.get("trace_id_prefix") or None,
        indexed_after_ns=(
            parse_int(params.get("indexed_after"), "indexed_after", 0)
            if params.get("indexed_after")
            else None
        ),
        limit=parse_int(params.get("limit"), "limit", 50),
        cursor=params.get("cursor") or None,
    )
