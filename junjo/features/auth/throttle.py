"""Sign-in throttling: too many failures for one account or from one client → 429.

Counted in memory, in a sliding window. That is enough for one process (``junjo serve``
is one process); a restart forgets the counts, which only helps a legitimate user.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from junjo.errors import TooManyAttempts

_MAX_TRACKED = 50_000  # distinct accounts + clients kept; bounds memory under a spray


class SignInThrottle:
    def __init__(self, per_account: int, per_client: int, window_seconds: int) -> None:
        self._limits = {"account": per_account, "client": per_client}
        self._window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, account: str, client: str) -> None:
        """Raise TooManyAttempts when either counter is at its limit."""
        now = time.monotonic()
        with self._lock:
            for kind, value in (("account", account), ("client", client)):
                times = self._recent((kind, value), now)
                if len(times) >= self._limits[kind]:
                    retry_after = max(1, math.ceil(times[0] + self._window - now))
                    raise TooManyAttempts(
                        "Too many failed sign-in attempts; try again later", retry_after
                    )

    def record_failure(self, account: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= _MAX_TRACKED:
                self._failures.clear()
            for key in (("account", account), ("client", client)):
                self._failures.setdefault(key, deque()).append(now)

    def record_success(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
