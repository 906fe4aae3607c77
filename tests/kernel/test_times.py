"""One time format for the whole API."""

import random
from datetime import UTC, datetime, timedelta

from junjo.kernel.times import iso_time


def exact(time_ns: int) -> str:
    """The reference: integer arithmetic only (a float of ns loses the microsecond)."""
    seconds, ns = divmod(time_ns, 1_000_000_000)
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=ns // 1000)
    return moment.isoformat(timespec="microseconds")


def test_every_time_is_shown_to_the_microsecond_it_lies_in():
    rng = random.Random(7)
    for _ in range(100_000):
        time_ns = rng.randrange(0, 4_102_444_800 * 10**9)  # 1970 .. 2100
        assert iso_time(time_ns) == exact(time_ns), time_ns


def test_edges():
    assert iso_time(0) == "1970-01-01T00:00:00.000000+00:00"
    assert iso_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456+00:00"
    assert iso_time(999) == "1970-01-01T00:00:00.000000+00:00"  # truncated, not rounded
    assert iso_time(None) is None
    assert iso_time(10**30) is None
