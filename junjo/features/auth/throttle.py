"""Sign-in throttling that slows guessing down without letting anyone lock the owner out.

The policy (docs/auth.md explains why), with N = ``per_account`` and M = ``per_client``:

- one account from one client: after N failures in the window, that client gets 429 for
  that account until the oldest of them leaves the window. Others are not affected, so an
  attacker's failures never lock the owner out (as a lockout by account would);
- one client, any accounts: after M failures (a spray over many accounts), 429 for it;
- one account, every client: beyond N failures from anywhere (many addresses guessing one
  account), each further attempt for that account waits before its check: 1 s, doubling
  with each further failure, at most ``max_delay`` seconds. Slower, never refused.

Attempts count as failures before the slow password check, so a concurrent burst cannot
slip past a limit while the first guesses are still being checked; a right password takes
its attempt back (and clears that client's failures for the account), and so does an
attempt the server never checked because it was busy.

Counted in memory, which is enough for one process (``junjo serve`` is one process); a
restart forgets the counts, which only helps a legitimate user. The table holds at most
``max_tracked`` keys; filling it evicts what no longer matters first, never wholesale.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from junjo.kernel.errors import TooManyAttempts

MAX_TRACKED = 20_000  # keys (account+client pairs, clients, accounts): ~7 MB measured
# Entries looked at, least recently used first, to find one to evict: bounded work per insert.
EVICTION_SCAN = 64
# An email is at most 254 characters; longer input still gets its (failing) check, but the
# key it is counted under is bounded, so a megabyte "email" cannot take a megabyte here.
MAX_KEY_CHARS = 256
# Failure times kept per account beyond N: enough to reach any sensible max_delay.
ACCOUNT_HISTORY_EXTRA = 32

Key = tuple[str, str, str]


@dataclass(frozen=True)
class SignInAttempt:
    """One counted attempt: hand it back with ``succeeded`` or ``abandoned``."""

    keys: tuple[Key, Key, Key]  # (account+client, client, account)
    at: float
    delay: float  # seconds to wait before checking the password


class SignInThrottle:
    def __init__(
        self,
        per_account: int,
        per_client: int,
        window_seconds: int,
        max_delay_seconds: int,
        *,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"pair": per_account, "client": per_client}
        self._slow_after = per_account
        self._window = window_seconds
        self._max_delay = max_delay_seconds
        self._max_tracked = max_tracked
        self._clock = clock
        # Failure times per key, least recently used first.
        self._failures: OrderedDict[Key, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, account: str, client: str) -> SignInAttempt:
        """Count an attempt, or raise TooManyAttempts for this client (see the module doc)."""
        account, client = account[:MAX_KEY_CHARS], client[:MAX_KEY_CHARS]
        keys = (("pair", account, client), ("client", client, ""), ("account", account, ""))
        with self._lock:
            now = self._clock()
            for key in keys[:2]:
                times = self._recent(key, now)
                limit = self._limits[key[0]]
                if len(times) >= limit:
                    retry_after = max(1, math.ceil(times[-limit] + self._window - now))
                    raise TooManyAttempts(
                        "Too many failed sign-in attempts; try again later", retry_after
                    )
            delay = self._delay(len(self._recent(keys[2], now)))
            for key in keys:
                self._record(key, now)
        return SignInAttempt(keys, now, delay)

    def succeeded(self, attempt: SignInAttempt) -> None:
        """The password was right: this client's failures for the account were typos, so
        they and this attempt stop counting. Failures from other clients still count for
        the account: signing in must not reset an attacker's pace."""
        pair, client, account = attempt.keys
        with self._lock:
            for at in self._failures.pop(pair, None) or [attempt.at]:  # (if evicted meanwhile)
                self._take_back(client, at)
                self._take_back(account, at)

    def abandoned(self, attempt: SignInAttempt) -> None:
        """The password was never checked (the server was busy): this attempt did not count."""
        with self._lock:
            for key in attempt.keys:
                self._take_back(key, attempt.at)

    def tracked(self) -> int:
        with self._lock:
            return len(self._failures)

    # -- the table ---------------------------------------------------------------------

    def _delay(self, account_failures: int) -> float:
        beyond = account_failures - self._slow_after
        if beyond <= 0:
            return 0.0
        return float(min(self._max_delay, 2 ** (beyond - 1)))  # beyond <= the history kept

    def _recent(self, key: Key, now: float) -> list[float]:
        """The failure times of ``key`` still in the window (marks it recently used)."""
        times = self._failures.get(key)
        if times is None:
            return []
        del times[: bisect.bisect_right(times, now - self._window)]  # kept in time order
        self._failures.move_to_end(key)
        return times

    def _record(self, key: Key, now: float) -> None:
        times = self._failures.get(key)
        if times is None:
            if len(self._failures) >= self._max_tracked:
                self._evict_one(now)
            times = self._failures[key] = []
        times.append(now)
        if key[0] == "account":
            del times[: -(self._slow_after + ACCOUNT_HISTORY_EXTRA)]

    def _take_back(self, key: Key, at: float) -> None:
        times = self._failures.get(key)
        if times and at in times:
            times.remove(at)

    def _evict_one(self, now: float) -> None:
        """Make room for one key: among the least recently used, an expired entry if any,
        else one that limits nobody, else (all of them limiting) the least recently used."""
        oldest = list(itertools.islice(self._failures.items(), EVICTION_SCAN))
        victim = next((key for key, times in oldest if not self._live(times, now)), None)
        if victim is None:
            victim = next(
                (key for key, times in oldest if not self._limiting(key, times, now)),
                oldest[0][0],
            )
        del self._failures[victim]

    def _live(self, times: list[float], now: float) -> bool:
        return bool(times) and times[-1] > now - self._window

    def _limiting(self, key: Key, times: list[float], now: float) -> bool:
        recent = sum(1 for at in times if at > now - self._window)
        if key[0] == "account":
            return recent > self._slow_after
        return recent >= self._limits[key[0]]
