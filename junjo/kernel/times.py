"""Times as the API shows them: one format, written once."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_time(time_ns: int | None) -> str | None:
    """UTC ISO-8601 with microseconds and ``+00:00`` (Junjo AI Studio's format), e.g.
    ``2026-01-02T03:04:05.123456+00:00``; truncated, never rounded, so a time is never shown
    after a later one. None for None and for times no calendar date holds."""
    if time_ns is None:
        return None
    try:
        moment = datetime.fromtimestamp(time_ns // 1_000_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    micros = (time_ns % 1_000_000_000) // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}+00:00"
