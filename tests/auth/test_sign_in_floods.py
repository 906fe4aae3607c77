"""Sign-in under attack, against a real `junjo serve`: memory, throttling, forwarded addresses.

Each test plays several clients from different loopback addresses (127.0.0.0/8).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.cli import run_cli
from tests.support.server import REAL_PASSWORD_HASHING, ServerProcess

pytestmark = pytest.mark.slow

OWNER = "owner@example.com"
MIB = 1 << 20


def add_owner(data: Path) -> None:
    added = run_cli(data, "user", "add", OWNER, "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr


def proc_status_bytes(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


class RssSampler:
    """Samples the server's resident memory every few milliseconds until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.samples.append(proc_status_bytes(self.pid, "VmRSS"))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_sign_in_burst_stays_inside_the_memory_budget(tmp_path):
    """80 concurrent sign-ins from 8 addresses, each for its own account (so no throttle
    stops them): each argon2id check takes 64 MiB, so only a few may run at once; the rest
    are told to come back, and none fails or hangs. Main peaked at 2,395 MiB here."""
    data = tmp_path / "data"
    add_owner(data)
    with ServerProcess(data, env=REAL_PASSWORD_HASHING) as server:
        assert server.proc is not None
        assert "meant for test suites only" not in server.log
        clients = [server.client(f"127.0.0.{n}", timeout=60) for n in range(2, 10)]
        start = threading.Barrier(80)
        answers: list[tuple[int, str | None]] = []

        def sign_in(n: int) -> None:
            body = {"email": f"guess{n}@example.com", "password": "wrong-password"}
            start.wait()
            response = clients[n // 10].post("/sign-in", json=body)
            answers.append((response.status_code, response.headers.get("retry-after")))

        threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(80)]
        with RssSampler(server.proc.pid) as rss:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        peak = proc_status_bytes(server.proc.pid, "VmHWM")
        sampled = max(rss.samples, default=0)
        assert peak < 300 * MIB, f"peak RSS {peak / MIB:.0f} MiB (sampled {sampled / MIB:.0f})"
        assert len(answers) == 80, "some sign-ins never got an answer"
        codes = [code for code, _ in answers]
        assert set(codes) <= {401, 503}, codes
        assert codes.count(401) >= 2 and codes.count(503) >= 1, codes
        assert all(retry and int(retry) >= 1 for code, retry in answers if code == 503)
        owner = server.client("127.0.0.1", timeout=60)
        signed_in = owner.post("/sign-in", json={"email": OWNER, "password": PASSWORD})
        assert signed_in.status_code == 200


def failed_sign_ins(client, emails: list[str], **headers: str) -> list[int]:
    wrong = "wrong-password"
    return [
        client.post(
            "/sign-in", json={"email": email, "password": wrong}, headers=headers
        ).status_code
        for email in emails
    ]


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default, so a local client could
    name a fresh address for every guess and never be throttled."""
    env = {"JUNJO_TRUSTED_PROXIES": "127.0.0.2", "JUNJO_SIGNIN_MAX_FAILURES_PER_CLIENT": "3"}
    with ServerProcess(tmp_path / "data", env=env) as server:
        local = server.client("127.0.0.1", timeout=30)
        spoofed = [
            local.post(
                "/sign-in",
                json={"email": f"a{n}@example.com", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"1.2.3.{n}"},
            ).status_code
            for n in range(4)
        ]
        assert spoofed == [401, 401, 401, 429]  # counted as 127.0.0.1, whatever it claims

        proxy = server.client("127.0.0.2", timeout=30)
        emails = [f"b{n}@example.com" for n in range(4)]
        assert failed_sign_ins(proxy, emails, **{"X-Forwarded-For": "1.2.3.4"}) == [401] * 3 + [429]
        other = failed_sign_ins(proxy, emails[:1], **{"X-Forwarded-For": "1.2.3.5"})
        assert other == [401]  # another client behind the proxy


def test_an_attackers_failures_slow_the_owner_down_but_never_lock_them_out(tmp_path):
    data = tmp_path / "data"
    add_owner(data)
    with ServerProcess(data, env={"JUNJO_SIGNIN_MAX_DELAY_SECONDS": "1"}) as server:
        attacker = server.client("127.0.0.2", timeout=30)
        assert failed_sign_ins(attacker, [OWNER] * 6) == [401] * 5 + [429]
        owner = server.client("127.0.0.1", timeout=30)
        right = {"email": OWNER, "password": PASSWORD}
        assert owner.post("/sign-in", json=right).status_code == 200  # main answered 429

        second = server.client("127.0.0.3", timeout=30)
        assert failed_sign_ins(second, [OWNER] * 2) == [401] * 2
        started = time.monotonic()
        assert owner.post("/sign-in", json=right).status_code == 200
        assert time.monotonic() - started >= 1  # 7 failures from anywhere: attempts wait
