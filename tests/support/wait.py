"""Waiting for a condition instead of sleeping a fixed time: a fixed sleep is either too
short on a loaded machine (a flaky test) or longer than needed everywhere (a slow one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 10,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Call ``condition`` every ``interval`` s until it returns something truthy; return it.

    Raises AssertionError after ``timeout`` s (``message`` may be a callable, so a costly
    explanation such as a server log is only built on failure). The last try always starts
    after the deadline, so a test descheduled past it still gets a fair last look.
    """
    deadline = time.monotonic() + timeout
    while True:
        expired = time.monotonic() >= deadline
        result = condition()
        if result:
            return result
        if expired:
            explanation = message() if callable(message) else message
            raise AssertionError(f"after {timeout} s: {explanation}")
        time.sleep(interval)
