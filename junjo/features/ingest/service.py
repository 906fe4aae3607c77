"""The ingestion service: what both doors (gRPC and OTLP/HTTP) do with an export request.

Order of work for one request: admission (bounded in-flight requests and bytes), backpressure
(WAL backlog, free disk), decode and validate, durable WAL append, wake the indexer, ack.
Nothing here knows about gRPC or HTTP: refusals are exceptions carrying a reason, and each
adapter maps the reason to its own status code.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from junjo.config import Settings
from junjo.features.ingest.masking import MaskCounts, Masker
from junjo.features.ingest.otlp import WireFormat, decode_traces, decompress
from junjo.kernel.errors import Busy, PermissionDenied, RetryLater, TooManyRequests, Unauthenticated
from junjo.kernel.wal import WalClosed, WriteAheadLog

log = logging.getLogger("junjo.ingest")

MIB = 1 << 20


class Refusal(StrEnum):
    """Why a whole batch was refused. Every one of them tells the client to retry later."""

    BACKLOG = "backlog"  # the indexer is behind: RESOURCE_EXHAUSTED / 429
    LOW_DISK = "low_disk"  # UNAVAILABLE / 503
    OVERLOADED = "overloaded"  # too many requests in flight: UNAVAILABLE / 503
    SHUTTING_DOWN = "shutting_down"  # UNAVAILABLE / 503
    STORAGE_ERROR = "storage_error"  # WAL write failed after retries: UNAVAILABLE / 503
    AUTH_UNAVAILABLE = "auth_unavailable"  # key store unreadable: UNAVAILABLE / 503


# Seconds a client should wait, sent as Retry-After. Short when the cause clears quickly.
RETRY_AFTER_S = {
    Refusal.BACKLOG: 5,
    Refusal.LOW_DISK: 30,
    Refusal.OVERLOADED: 1,
    Refusal.SHUTTING_DOWN: 5,
    Refusal.STORAGE_ERROR: 5,
    Refusal.AUTH_UNAVAILABLE: 2,
}


class IngestRefused(RetryLater):
    """A whole batch refused for a while; ``reason`` says why (counted in the status)."""

    reason: Refusal


class BacklogFull(IngestRefused, TooManyRequests):
    reason = Refusal.BACKLOG


class IngestUnavailable(IngestRefused, Busy):
    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message, RETRY_AFTER_S[reason])
        self.reason = reason


def refused(reason: Refusal, message: str) -> IngestRefused:
    if reason is Refusal.BACKLOG:
        return BacklogFull(message, RETRY_AFTER_S[reason])
    return IngestUnavailable(reason, message)


@dataclass(frozen=True, slots=True)
class AcceptResult:
    accepted_spans: int
    rejected_spans: int
    error_message: str
    seq: int | None  # WAL sequence number; None when nothing was stored


class KeyVerifierLike(Protocol):
    def verify(self, raw_key: str) -> Any: ...


class IndexerLike(Protocol):
    def wake(self) -> None: ...
    def status(self) -> Any: ...
    def flush(self, timeout: float) -> bool: ...


@dataclass(frozen=True)
class IngestLimits:
    max_backlog_bytes: int
    min_free_disk_bytes: int
    max_body_bytes: int  # a request body, and what it may decompress to
    max_inflight_requests: int = 32
    max_inflight_bytes: int = 256 * MIB
    admission_wait_s: float = 0.1  # absorb short bursts before answering "overloaded"
    flush_timeout_s: float = 10.0  # how long "index everything now" may hold a request

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        max_body = max(settings.http_max_body_mb, settings.grpc_max_receive_mb) * MIB
        return cls(
            max_backlog_bytes=settings.ingest_max_backlog_mb * MIB,
            min_free_disk_bytes=settings.ingest_min_free_disk_mb * MIB,
            max_body_bytes=settings.http_max_body_mb * MIB,
            # Room for two of the largest allowed requests, so one big batch never starves.
            max_inflight_bytes=max(256 * MIB, 2 * max_body),
        )


class _Admission:
    """Bounds requests and bytes in flight, so memory stays flat however hard clients push.

    Bytes are held by requests (a gRPC export's whole message) and by HTTP bodies while they
    arrive, which claim what has arrived so far and grow with it. A claim above the byte
    budget is still granted when nothing else holds bytes, otherwise a request at the size
    limit could never get in.
    """

    def __init__(self, max_requests: int, max_bytes: int) -> None:
        self._cond = threading.Condition()
        self._max_requests = max_requests
        self._max_bytes = max_bytes
        self.requests = 0
        self.bytes = 0
        self.closed = False

    def enter(self, size: int, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                if self.closed:
                    raise refused(Refusal.SHUTTING_DOWN, "server is shutting down")
                if self.requests < self._max_requests and self._fits(size, held=0):
                    self.requests += 1
                    self.bytes += size
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise refused(Refusal.OVERLOADED, "too many exports in flight")
                self._cond.wait(remaining)

    def leave(self, size: int) -> None:
        with self._cond:
            self.requests -= 1
            self.bytes -= size
            self._cond.notify_all()

    def grow(self, held: int, extra: int) -> None:
        """Add ``extra`` bytes to a claim of ``held`` bytes, at once or not at all."""
        with self._cond:
            if self.closed:
                raise refused(Refusal.SHUTTING_DOWN, "server is shutting down")
            if not self._fits(extra, held):
                raise refused(Refusal.OVERLOADED, "too many export bytes in flight")
            self.bytes += extra

    def shrink(self, size: int) -> None:
        with self._cond:
            self.bytes -= size
            self._cond.notify_all()

    def _fits(self, extra: int, held: int) -> bool:
        return extra == 0 or self.bytes + extra <= self._max_bytes or self.bytes == held

    def close_and_drain(self, timeout: float) -> bool:
        """Refuse new requests; wait for those in flight. False if some are still running."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            while self.requests:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True


class BodyBudget:
    """The in-flight bytes one HTTP body holds while it arrives: what has arrived so far."""

    def __init__(self, admission: _Admission, count_refusal: Callable[[str], None]) -> None:
        self._admission = admission
        self._count_refusal = count_refusal
        self.held = 0

    def grow(self, extra: int) -> None:
        """Claim ``extra`` more bytes, or IngestRefused (OVERLOADED) when the budget is gone."""
        try:
            self._admission.grow(self.held, extra)
        except IngestRefused as exc:
            self._count_refusal(exc.reason)
            raise
        self.held += extra

    def release(self) -> None:
        self._admission.shrink(self.held)
        self.held = 0


class _FreeDisk:
    """Free bytes on the WAL's file system, re-read at most once a second (statvfs)."""

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval_s = interval_s
        self._value = 0
        self._read_at = float("-inf")

    def bytes(self) -> int:
        now = time.monotonic()
        if now - self._read_at >= self._interval_s:
            try:
                self._value = shutil.disk_usage(self._path).free
            except OSError:
                self._value = 1 << 62  # unknown: do not refuse on a failed stat
            self._read_at = now
        return self._value


class IngestService:
    WAL_ATTEMPTS = 3
    # Pacing starts once PACING_START waits to be indexed (a few indexer groups; or 1/8 of a
    # small backlog bound) and reaches its maximum over the next PACING_RAMP bytes (or at
    # the bound, if that comes first).
    PACING_START = 16 * MIB
    PACING_RAMP = 64 * MIB
    MAX_PACING_S = 1.0

    def __init__(
        self,
        wal: WriteAheadLog,
        indexer: IndexerLike,
        limits: IngestLimits,
        masker: Masker | None = None,
    ) -> None:
        self.wal = wal
        self.indexer = indexer
        self.limits = limits
        self.masker = masker  # None: no masking rules, and no cost
        self._masked = MaskCounts()
        self._admission = _Admission(limits.max_inflight_requests, limits.max_inflight_bytes)
        self._free_disk = _FreeDisk(wal.path.parent)
        self._lock = threading.Lock()
        self._rejected_spans = 0
        self._refused: Counter[str] = Counter()
        self._last_warning: dict[str, float] = {}
        self._started_at = time.time()

    # -- the request path ------------------------------------------------------------------

    def authenticate(self, verifier: KeyVerifierLike, raw_key: str | None) -> Any:
        """The verified ingest key, else Unauthenticated, PermissionDenied (a read key) or
        IngestRefused(AUTH_UNAVAILABLE)."""
        if not raw_key:
            self._count_refusal("unauthenticated")
            raise Unauthenticated("Missing x-junjo-api-key header")
        try:
            key = verifier.verify(raw_key)
        except sqlite3.Error as exc:  # a locked or unreadable control DB is transient
            message = f"cannot check the API key now: {exc}"
            raise self._refusal(Refusal.AUTH_UNAVAILABLE, message) from exc
        if key is None:
            self._count_refusal("unauthenticated")
            raise Unauthenticated("Invalid API key")
        if key.scope != "ingest":
            self._count_refusal("permission_denied")
            raise PermissionDenied("This API key has read scope and cannot ingest")
        return key

    def pacing_delay(self) -> float:
        """Seconds to hold an export before accepting it, while the indexer is behind.

        Acking costs CPU the indexer needs: unpaced, closed-loop clients acking 24,000
        spans/s held indexing to about 4,600 on two cores. Above a soft backlog bound the
        delay grows linearly to ``MAX_PACING_S`` and stays there up to the hard bound, so
        acks slow to the indexing rate instead of racing to the bound and flipping to
        refusals. A paced export is still accepted. gRPC exports wait inside their
        admission (their bodies are already read), so while many large ones wait, others
        may be refused as overloaded (UNAVAILABLE, which clients retry).
        """
        hard = self.limits.max_backlog_bytes
        soft = min(self.PACING_START, hard // 8)
        _, backlog = self.wal.backlog()
        if backlog <= soft or backlog > hard:  # above the bound it is refused at once
            return 0.0
        ramp = max(1, min(self.PACING_RAMP, hard - soft))  # a small bound: reach 1 s at it
        return min(1.0, (backlog - soft) / ramp) * self.MAX_PACING_S

    @contextlib.contextmanager
    def admit(self, size: int, wait_s: float | None = None) -> Iterator[None]:
        """Hold an in-flight slot for a request of ``size`` bytes, or refuse it."""
        wait = self.limits.admission_wait_s if wait_s is None else wait_s
        try:
            self._admission.enter(size, wait)
        except IngestRefused as exc:
            self._count_refusal(exc.reason)
            raise
        try:
            yield
        finally:
            self._admission.leave(size)

    @contextlib.contextmanager
    def receiving(self) -> Iterator[BodyBudget]:
        """In-flight bytes for a body being received, claimed as it arrives, freed on exit.

        A client that declares a large body and then stalls holds only what it has sent.
        Once the body is complete, take a request slot with ``admit(0)``.
        """
        budget = BodyBudget(self._admission, self._count_refusal)
        try:
            yield budget
        finally:
            budget.release()

    def accept(
        self,
        body: bytes,
        wire: WireFormat,
        *,
        content_encoding: str = "",
        api_key_id: str | None = None,
    ) -> AcceptResult:
        """Validate and durably store one export. Call inside ``admit``."""
        self._check_backpressure()
        data = decompress(body, content_encoding, self.limits.max_body_bytes)
        decoded = decode_traces(data, wire, self.masker)
        seq = None
        if decoded.accepted_spans:
            seq = self._append(decoded.payload, decoded.accepted_spans, api_key_id)
            self.indexer.wake()
            if decoded.masked is not None and decoded.masked.values:
                self._count_masked(decoded.masked)
        if decoded.rejected_spans:
            with self._lock:
                self._rejected_spans += decoded.rejected_spans
        return AcceptResult(
            decoded.accepted_spans, decoded.rejected_spans, decoded.error_message, seq
        )

    def _count_masked(self, counts: MaskCounts) -> None:
        """What masking did to an export now stored (a re-sent batch is counted again)."""
        with self._lock:
            self._masked.spans += counts.spans
            self._masked.values += counts.values
            self._masked.timed_out += counts.timed_out

    def _check_backpressure(self) -> None:
        if self._admission.closed:
            raise self._refusal(Refusal.SHUTTING_DOWN, "server is shutting down")
        _, backlog_bytes = self.wal.backlog()
        if backlog_bytes > self.limits.max_backlog_bytes:
            raise self._refusal(
                Refusal.BACKLOG,
                f"indexing backlog is {backlog_bytes // MIB} MiB, above the"
                f" {self.limits.max_backlog_bytes // MIB} MiB bound; retry later",
            )
        if self._free_disk.bytes() < self.limits.min_free_disk_bytes:
            raise self._refusal(
                Refusal.LOW_DISK,
                f"less than {self.limits.min_free_disk_bytes // MIB} MiB of free disk; retry later",
            )

    def _append(self, payload: bytes, span_count: int, api_key_id: str | None) -> int:
        error: Exception | None = None
        for attempt in range(self.WAL_ATTEMPTS):
            try:
                return self.wal.append(payload, span_count, api_key_id)
            except WalClosed as exc:
                raise self._refusal(Refusal.SHUTTING_DOWN, "server is shutting down") from exc
            except (sqlite3.Error, OSError) as exc:  # busy, disk full, I/O error
                error = exc
                time.sleep(0.05 * 2**attempt)
        log.error("WAL append failed after %d attempts: %s", self.WAL_ATTEMPTS, error)
        raise self._refusal(Refusal.STORAGE_ERROR, "could not store the batch; retry later")

    def _refusal(self, reason: Refusal, message: str) -> IngestRefused:
        self._count_refusal(reason)
        self._warn_sometimes(reason, message)
        return refused(reason, message)

    def _count_refusal(self, reason: str) -> None:
        with self._lock:
            self._refused[str(reason)] += 1

    def _warn_sometimes(self, reason: str, message: str) -> None:
        """One log line per reason per 10 s: a refusal storm must not become a log storm."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning.get(reason, float("-inf")) < 10:
                return
            self._last_warning[reason] = now
        log.warning("refusing exports (%s): %s", reason, message)

    def record_invalid(self) -> None:
        """Adapters call this for a batch refused as malformed or too large."""
        self._count_refusal("invalid")

    def record_timeout(self) -> None:
        """Adapters call this for a request whose body or message arrived too slowly."""
        self._count_refusal("timed_out")

    # -- status and lifecycle --------------------------------------------------------------

    def refusals(self) -> dict[str, int]:
        """Batches refused since start, by reason (including auth and invalid input)."""
        with self._lock:
            return dict(self._refused)

    def status(self) -> dict[str, Any]:
        totals = self.wal.totals()
        indexer = self.indexer.status()
        oldest = indexer.oldest_unindexed_received_at_ns
        lag_s = max(0.0, time.time() - oldest / 1e9) if oldest else 0.0
        with self._lock:
            rejected = self._rejected_spans
        refused = self.refusals()
        with self._lock:
            masked = {
                "rules": len(self.masker.rules) if self.masker else 0,
                "spans": self._masked.spans,
                "values": self._masked.values,
                "timed_out_values": self._masked.timed_out,
            }
        return {
            "accepted": {"batches": totals.accepted_batches, "spans": totals.accepted_spans},
            "indexed": {
                "spans": indexer.indexed_spans,
                "duplicate_spans": indexer.duplicate_spans,
                "wal_seq": indexer.indexed_seq,
                "last_indexed_at_ns": indexer.last_indexed_at_ns,
            },
            "backlog": {"batches": totals.pending_batches, "bytes": totals.pending_bytes},
            "quarantined": {  # since the store was created; pending ones: quarantine()
                "batches": indexer.quarantined_batches,
                "spans": indexer.quarantined_spans,
            },
            "truncated_values": indexer.truncated_values,
            "masked": masked,
            "rejected_spans": rejected,
            "refused_batches": refused,
            "indexer_lag_seconds": round(lag_s, 3),
            "indexer_running": indexer.running,
            "indexer_error": indexer.last_error,
            "in_flight": {"requests": self._admission.requests, "bytes": self._admission.bytes},
            "counters_since_ns": int(self._started_at * 1e9),
            "shutting_down": self._admission.closed,
        }

    def quarantine(self, actor: Any, limit: int = 20) -> dict[str, Any]:
        """What the indexer set aside and has not been replayed (newest first)."""
        from junjo.features.ingest import quarantine

        return quarantine.list_entries(self.wal, actor, limit)

    def replay_quarantined(self, actor: Any, ids: list[int] | None) -> dict[str, Any]:
        """Put quarantined entries back into the WAL (None: all), to be indexed again."""
        from junjo.features.ingest import quarantine

        if self._admission.closed:
            raise self._refusal(Refusal.SHUTTING_DOWN, "server is shutting down")
        return quarantine.replay(self.wal, actor, ids, wake=self.indexer.wake)

    def flush(self, actor: Any) -> dict[str, Any]:
        """Index everything the WAL holds now (Junjo AI Studio's "Flush WAL" button), or
        Busy if that takes longer than ``flush_timeout_s``: the rest is indexed anyway."""
        actor.require_admin()
        before = self.indexer.status().indexed_spans
        timeout = self.limits.flush_timeout_s
        if not self.indexer.flush(timeout):
            raise Busy(
                f"indexing did not catch up within {timeout:g} s; what waits stays in the WAL"
                " and is indexed as soon as it can be",
                RETRY_AFTER_S[Refusal.BACKLOG],
            )
        indexed = self.indexer.status().indexed_spans - before
        return {
            "success": True,
            "message": f"WAL flush completed, {indexed} span(s) indexed",
            "spans_indexed": indexed,
        }

    @property
    def shutting_down(self) -> bool:
        return self._admission.closed

    def close(self, timeout: float) -> bool:
        """Refuse new exports and wait for in-flight ones; True when all finished."""
        return self._admission.close_and_drain(timeout)
