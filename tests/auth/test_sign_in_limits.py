"""The sign-in throttle's policy and the password-check gate, on a clock the tests move."""

from __future__ import annotations

import threading

import pytest

from junjo.features.auth.throttle import SignInThrottle
from junjo.features.users.passwords import PasswordCheckGate
from junjo.kernel.errors import Busy, TooManyAttempts

WINDOW = 900


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, **overrides: int) -> SignInThrottle:
    limits = {"per_account": 5, "per_client": 20, "max_delay_seconds": 10} | overrides
    return SignInThrottle(window_seconds=WINDOW, clock=clock, **limits)


def fail(limiter: SignInThrottle, account: str, client: str, times: int = 1) -> list[float]:
    """``times`` failed attempts; the delay each was told to wait."""
    return [limiter.begin(account, client).delay for _ in range(times)]


def test_an_account_and_client_pair_is_limited_with_a_retry_time(clock):
    limiter = throttle(clock)
    fail(limiter, "owner@x.io", "10.0.0.9", 5)
    clock.now += 60
    with pytest.raises(TooManyAttempts) as refused:
        limiter.begin("owner@x.io", "10.0.0.9")
    assert refused.value.retry_after == WINDOW - 60
    clock.now += WINDOW - 60
    assert limiter.begin("owner@x.io", "10.0.0.9").delay == 0  # the window slid past them


def test_an_attackers_failures_do_not_refuse_the_owner(clock):
    limiter = throttle(clock)
    fail(limiter, "owner@x.io", "attacker", 5)
    with pytest.raises(TooManyAttempts):
        limiter.begin("owner@x.io", "attacker")
    owner = limiter.begin("owner@x.io", "owner-laptop")
    assert owner.delay == 0
    limiter.succeeded(owner)


def test_many_clients_on_one_account_slow_it_down_without_a_lockout(clock):
    limiter = throttle(clock, max_delay_seconds=10)
    delays = [limiter.begin("owner@x.io", f"bot-{n}").delay for n in range(12)]
    assert delays == [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 10, 10]
    owner = limiter.begin("owner@x.io", "owner-laptop")
    assert owner.delay == 10  # slower, never refused
    limiter.succeeded(owner)
    # Signing in does not reset the attackers' pace...
    assert limiter.begin("owner@x.io", "bot-99").delay == 10
    clock.now += WINDOW
    # ...the window does.
    assert limiter.begin("owner@x.io", "bot-99").delay == 0


def test_a_client_spraying_accounts_is_limited(clock):
    limiter = throttle(clock, per_client=20)
    for n in range(20):
        fail(limiter, f"user{n}@x.io", "sprayer")
    with pytest.raises(TooManyAttempts):
        limiter.begin("someone-else@x.io", "sprayer")
    assert limiter.begin("someone-else@x.io", "elsewhere").delay == 0


def test_a_right_password_forgives_that_clients_typos(clock):
    limiter = throttle(clock)
    fail(limiter, "owner@x.io", "laptop", 4)
    fail(limiter, "owner@x.io", "attacker", 2)
    limiter.succeeded(limiter.begin("owner@x.io", "laptop"))
    # Counting starts afresh for the laptop; the attacker's two still count for the account.
    assert fail(limiter, "owner@x.io", "laptop", 5) == [0, 0, 0, 0, 1]


def test_an_attempt_the_server_never_checked_does_not_count(clock):
    limiter = throttle(clock, per_account=2)
    for _ in range(10):
        limiter.abandoned(limiter.begin("owner@x.io", "laptop"))  # each answered 503
    assert fail(limiter, "owner@x.io", "laptop", 2) == [0, 0]


def test_a_full_table_keeps_every_active_lockout(clock):
    limiter = throttle(clock, per_account=3, per_client=1000, max_tracked=100)
    fail(limiter, "owner@x.io", "attacker", 3)  # locked: 3 keys
    clock.now += 1
    for n in range(500):  # a spray of fresh (account, client) pairs fills a 100-key table
        fail(limiter, f"u{n}@x.io", f"10.0.{n // 250}.{n % 250}")
        clock.now += 0.01
    assert limiter.tracked() <= 100
    with pytest.raises(TooManyAttempts):
        limiter.begin("owner@x.io", "attacker")


def test_expired_entries_are_evicted_before_live_ones(clock):
    limiter = throttle(clock, per_account=3)
    fail(limiter, "old@x.io", "old-client", 1)  # soon expired
    clock.now += WINDOW
    fail(limiter, "new@x.io", "new-client", 2)  # live, limiting nobody yet
    tracked = limiter.tracked()
    limiter._max_tracked = tracked  # full: the next key needs room
    fail(limiter, "new@x.io", "third-client")
    assert limiter.tracked() == tracked
    assert fail(limiter, "new@x.io", "new-client") == [0]
    with pytest.raises(TooManyAttempts):  # its two failures were kept
        limiter.begin("new@x.io", "new-client")


def test_keys_are_bounded_whatever_the_email(clock):
    limiter = throttle(clock)
    huge = "x" * 1_000_000 + "@x.io"
    fail(limiter, huge, "client", 5)
    with pytest.raises(TooManyAttempts):
        limiter.begin(huge, "client")
    assert all(len(part) <= 256 for key in limiter._failures for part in key)


def test_the_gate_refuses_past_its_queue(clock):
    gate = PasswordCheckGate(1, queue=0)
    with gate.slot(), pytest.raises(Busy) as busy, gate.slot():
        pass
    assert busy.value.retry_after >= 1
    with gate.slot():  # free again
        pass


def test_a_queued_check_runs_when_a_slot_frees():
    gate = PasswordCheckGate(1, queue=1)
    ran = threading.Event()

    def queued() -> None:
        with gate.slot():
            ran.set()

    with gate.slot():
        waiter = threading.Thread(target=queued)
        waiter.start()
        assert not ran.wait(0.05)  # it waits for the slot the test holds
    assert ran.wait(10)
    waiter.join(10)


def test_a_queued_check_gives_up_rather_than_hang():
    gate = PasswordCheckGate(1, queue=1, max_wait_seconds=0.05)
    with gate.slot(), pytest.raises(Busy), gate.slot():
        pass
