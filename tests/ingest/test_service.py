"""IngestService rules that need precise control: admission, storage and key-store faults."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest

from junjo.features.ingest.service import (
    MIB,
    IngestLimits,
    IngestRefused,
    IngestService,
    Refusal,
)
from junjo.kernel.wal import WriteAheadLog
from tests.ingest.conftest import Harness
from tests.support.export import TRACE_EXPORT
from tests.support.otlp_builders import new_ids, request_bytes
from tests.support.wait import wait_until


class _Indexer:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture
def service(tmp_path: Path):
    wal = WriteAheadLog(tmp_path / "wal.db")
    limits = IngestLimits(
        max_backlog_bytes=64 * MIB,
        min_free_disk_bytes=0,
        max_body_bytes=MIB,
        max_inflight_requests=2,
        max_inflight_bytes=1000,
        admission_wait_s=0.05,
    )
    yield IngestService(wal, _Indexer(), limits)
    wal.close()


def test_accept_stores_and_wakes_the_indexer(service: IngestService):
    result = service.accept(request_bytes(new_ids(3)), "protobuf", api_key_id="k")
    assert (result.accepted_spans, result.rejected_spans) == (3, 0)
    assert result.seq is not None
    assert service.indexer.woken == 1
    assert service.wal.read_after(0)[0].api_key_id == "k"


def test_nothing_valid_means_nothing_stored(service: IngestService):
    assert service.accept(b"", "protobuf").seq is None
    assert service.wal.backlog() == (0, 0)


def test_admission_limits_requests_and_bytes(service: IngestService):
    with service.admit(10), service.admit(10):
        started = time.monotonic()
        with pytest.raises(IngestRefused) as refused, service.admit(10):
            pass
        assert refused.value.reason is Refusal.OVERLOADED
        assert time.monotonic() - started < 1  # refused quickly, not queued
    with service.admit(900), pytest.raises(IngestRefused), service.admit(200):
        pass
    with service.admit(5000):  # larger than the budget, but alone: admitted
        pass
    assert service.refusals()["overloaded"] == 2


def in_flight(service: IngestService) -> tuple[int, int]:
    """(requests, bytes) in flight, as ``status()`` reports them."""
    return service._admission.requests, service._admission.bytes


def test_a_body_claims_bytes_as_they_arrive_and_frees_them_on_exit(service: IngestService):
    with service.receiving() as body:  # the budget is 1,000 bytes here
        body.grow(600)
        assert in_flight(service) == (0, 600)
        with service.receiving() as other:
            with pytest.raises(IngestRefused) as refused:
                other.grow(500)  # 1,100 > 1,000: refused, and nothing claimed
            assert refused.value.reason is Refusal.OVERLOADED
            other.grow(400)
        body.grow(300)
        with service.admit(0):  # a complete body takes a slot; its bytes are already held
            assert in_flight(service) == (1, 900)
    assert in_flight(service) == (0, 0)
    assert service.refusals()["overloaded"] == 1


def test_a_body_alone_may_grow_past_the_budget(service: IngestService):
    with service.receiving() as body:
        body.grow(800)
        body.grow(800)  # nothing else holds bytes: like a lone request at the size limit
        with pytest.raises(IngestRefused), service.admit(10):
            pass  # but nothing else fits beside it


def test_a_slot_freed_during_the_wait_is_taken(service: IngestService):
    release = threading.Event()

    def hold() -> None:
        with service.admit(10):
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for holder in holders:
        holder.start()
    wait_until(lambda: service._admission.requests == 2)  # both slots taken
    threading.Timer(0.01, release.set).start()
    with service.admit(10, wait_s=10):  # a long wait: a slow timer cannot make it fail
        pass
    for holder in holders:
        holder.join()


def test_close_waits_for_in_flight_then_refuses(service: IngestService):
    entered, release = threading.Event(), threading.Event()

    def in_flight() -> None:
        with service.admit(1):
            entered.set()
            release.wait(10)

    def refusing() -> bool:
        try:
            with service.admit(1):
                return False
        except IngestRefused as refused:
            return refused.reason is Refusal.SHUTTING_DOWN

    worker = threading.Thread(target=in_flight)
    worker.start()
    assert entered.wait(10)
    closed: list[bool] = []
    closer = threading.Thread(target=lambda: closed.append(service.close(timeout=10)))
    closer.start()
    wait_until(refusing)  # close() has begun
    assert closed == []  # and waits, as one export is still in flight
    release.set()
    closer.join(10)
    worker.join(10)
    assert closed == [True]
    assert refusing()


def test_wal_failure_is_retried_then_refused_as_storage_error(service, monkeypatch):
    calls = []

    def failing_append(*args, **kwargs):
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(service.wal, "append", failing_append)
    with pytest.raises(IngestRefused) as refused:
        service.accept(request_bytes(new_ids(1)), "protobuf")
    assert refused.value.reason is Refusal.STORAGE_ERROR
    assert len(calls) == IngestService.WAL_ATTEMPTS


def test_grpc_wal_failure_is_unavailable_not_internal(server: Harness, monkeypatch):
    def failing_append(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(server.runtime.wal, "append", failing_append)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_unexpected_error_is_unavailable_not_internal(server: Harness, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.runtime.service, "accept", broken)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_key_store_failure_is_unavailable(server: Harness, monkeypatch):
    verifier = server.runtime._grpc._verifier

    def locked(raw_key):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(verifier, "verify", locked)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAVAILABLE
    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=request_bytes(new_ids(1)),
        headers={"Content-Type": "application/x-protobuf", "x-junjo-api-key": "k"},
    )
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_pacing_grows_from_16_mib_to_1_s_then_holds_until_the_bound(tmp_path: Path):
    wal = WriteAheadLog(tmp_path / "wal.db")
    limits = IngestLimits(
        max_backlog_bytes=512 * MIB, min_free_disk_bytes=0, max_body_bytes=64 * MIB
    )
    service = IngestService(wal, _Indexer(), limits)
    try:
        delays = []
        for backlog_mib in (16, 48, 80, 200, 512, 513):
            wal.append(b"x" * (backlog_mib * MIB - wal.backlog()[1]), 1)
            delays.append(service.pacing_delay())
        assert delays == pytest.approx([0, 0.5, 1, 1, 1, 0])  # above the bound: refused
    finally:
        wal.close()


def test_pacing_reaches_1_s_at_a_small_bound(service: IngestService):
    hard = service.limits.max_backlog_bytes  # 64 MiB here: pacing starts at 8 MiB
    service.wal.append(b"x" * (hard // 8), 1)
    assert service.pacing_delay() == 0
    service.wal.append(b"x" * (hard // 2 - hard // 8), 1)
    assert service.pacing_delay() == pytest.approx((hard // 2 - hard // 8) / (hard - hard // 8))
    service.wal.append(b"x" * (hard - hard // 2), 1)
    assert service.pacing_delay() == pytest.approx(1.0)
