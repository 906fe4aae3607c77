"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

Unlike bcrypt there is no silent 72-byte truncation; a 1 KiB cap keeps a hostile
password from costing more than a normal one.

Each hash or check holds 64 MiB for its ~0.1-0.2 s, so a burst of sign-ins on the web
server's thread pool (40 threads) once took the process from 107 MiB to 2 GiB. Every
computation therefore passes one process-wide gate: a few at a time, a short queue behind
them, and ``Busy`` (HTTP 503 with Retry-After) past that.

For test suites only: with ``JUNJO_TEST_CHEAP_PASSWORD_HASH=1`` in the environment when the
first password is hashed or checked, new hashes use argon2's cheapest cost (8 KiB, one
pass: microseconds), so tests that make hundreds of accounts do not spend minutes on them.
It is read once per process, and ``junjo serve`` prints a warning under its banner while
it is on. Checking a hash always uses the cost written in that hash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
from collections.abc import Iterator

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from junjo.kernel.errors import Busy, InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 1024

DEFAULT_CONCURRENCY = 2
# Waiting requests each hold a worker thread, so the queue stays short: at ~0.15 s a check,
# 4 per slot is under a second of waiting.
QUEUE_PER_SLOT = 4
# A waiter gives up after this long (a slow or stalled machine) rather than hang.
MAX_WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 1

TEST_CHEAP_HASH_ENV = "JUNJO_TEST_CHEAP_PASSWORD_HASH"
_TEST_PARAMETERS = dataclasses.replace(
    profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1
)


@dataclasses.dataclass(frozen=True)
class _Hashing:
    hasher: PasswordHasher
    # Verified against when the account does not exist, so both paths cost the same time.
    dummy_hash: str
    cheap_for_tests: bool


@functools.cache
def _hashing() -> _Hashing:
    """Made at first use, so importing this module costs no hash."""
    cheap = os.environ.get(TEST_CHEAP_HASH_ENV) == "1"
    hasher = PasswordHasher.from_parameters(_TEST_PARAMETERS) if cheap else PasswordHasher()
    return _Hashing(hasher, hasher.hash("not-a-real-password"), cheap)


def cheap_hashing_notice() -> str | None:
    """A warning for ``junjo serve``'s banner when this process hashes at the test-only cost
    (see the module doc), so no server runs on it unnoticed; else None."""
    if not _hashing().cheap_for_tests:
        return None
    return (
        f"Warning: {TEST_CHEAP_HASH_ENV}=1: password hashes are cheap to crack;"
        " it is meant for test suites only."
    )


class PasswordCheckGate:
    """At most ``concurrency`` argon2 computations at once and ``queue`` more waiting."""

    def __init__(
        self,
        concurrency: int,
        queue: int | None = None,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._slots = threading.Semaphore(concurrency)
        waiting = QUEUE_PER_SLOT * concurrency if queue is None else queue
        self._max_admitted = concurrency + waiting
        self._admitted = 0  # running + waiting
        self._lock = threading.Lock()
        self._max_wait = max_wait_seconds

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for one computation, or raise Busy when the queue is full or slow."""
        with self._lock:
            if self._admitted >= self._max_admitted:
                raise _busy()
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self._max_wait):
                raise _busy()
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1


def _busy() -> Busy:
    return Busy("Too many sign-ins at once; try again in a moment", RETRY_AFTER_SECONDS)


# Process-wide, because the memory it protects is the process's.
_gate = PasswordCheckGate(DEFAULT_CONCURRENCY)


def limit_concurrent_checks(concurrency: int) -> None:
    """Size the gate (``password_check_concurrency``); called when the web app is built."""
    global _gate
    _gate = PasswordCheckGate(concurrency)


def check_password_rules(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidInput("password: must be a string")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password: must be at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash; raises Busy when too many computations are under way."""
    check_password_rules(password)
    with _gate.slot():
        return _hashing().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong or malformed hash (Busy
    when too many computations are under way)."""
    hashing = _hashing()
    with _gate.slot():
        try:
            matched = hashing.hasher.verify(password_hash or hashing.dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return matched and bool(password_hash)
