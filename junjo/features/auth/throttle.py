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

    def begin(self, account: str, client: str) -> None:
        """Count an attempt as a failure before the (slow) password check, or raise
        TooManyAttempts. Counting first means a burst of concurrent guesses cannot all
        slip past the limit while the first ones are still being verified."""
        now = time.monotonic()
        keys = (("account", account), ("client", client))
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self._limits[key[0]]:
                    retry_after = max(1, math.ceil(times[0] + self._window - now))
                    raise TooManyAttempts(
                        "Too many failed sign-in attempts; try again later", retry_after
                    )
            if len(self._failures) >= _MAX_TRACKED:
                self._failures.clear()
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str, client: str) -> None:
        """The attempt was right: forget the account's failures and this one attempt."""
        with self._lock:
            self._failures.pop(("account", account), None)
            attempts = self._failures.get(("client", client))
            if attempts:
                attempts.pop()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key) or deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
