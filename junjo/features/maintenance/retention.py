"""Retention: which traces go, and the job in the server that deletes them.

Traces go whole, oldest end time first: every trace that ended more than ``max_age_days``
ago, and with ``max_disk_gb`` set, further traces (oldest first) until the span store's used
size is estimated to fit under the limit with 5% to spare (so the job does not trim a little
on every run). The estimate is the store's used bytes per span; after deleting, the size is
measured again and, if it is still over but the round freed space, one more round goes
(three at most a run). DuckDB frees the blocks of a row group (122,880 rows) once all its
rows are deleted, and reuses them for new rows; a partly deleted row group keeps its
blocks. So on a store of a few row groups the limit is approximate (docs/operations.md).
``junjo prune`` and ``POST /api/admin/prune`` run the same ``prune``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from junjo.kernel.errors import InvalidInput
from junjo.kernel.principal import Principal

if TYPE_CHECKING:
    from junjo.config import Settings
    from junjo.features.spans import SpanStore

log = logging.getLogger("junjo.retention")

DAY_NS = 86_400 * 10**9
_PAGE = 2_000
_DISK_ROUNDS = 3
_DISK_SPARE = 0.05
_SHOWN = 20  # traces a report lists by id
_FIRST_RUN_AFTER_S = 10.0  # after start: the indexer catches up on its WAL first


@dataclass(frozen=True)
class Policy:
    max_age_ns: int | None  # None: no age limit
    max_disk_bytes: int | None
    quiet_ns: int

    @classmethod
    def from_settings(cls, settings: Settings, older_than_ns: int | None = None) -> Policy:
        """The configured policy; ``older_than_ns`` (``junjo prune --older-than``) instead
        of ``max_age_days``."""
        days = settings.retention_max_age_days
        age = older_than_ns if older_than_ns is not None else (days * DAY_NS if days else None)
        if age is not None and age <= 0:
            raise InvalidInput("--older-than must be more than 0")
        gb = settings.retention_max_disk_gb
        disk = int(gb * 1e9) if gb else None
        return cls(age, disk, settings.retention_quiet_seconds * 10**9)

    @property
    def active(self) -> bool:
        return self.max_age_ns is not None or self.max_disk_bytes is not None


@dataclass
class PruneReport:
    dry_run: bool
    cutoff: int | None  # ns since the epoch: traces that ended before it go
    max_disk_bytes: int | None
    traces: int = 0
    spans: int = 0
    by_service: dict[str, int] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)  # the first few (oldest)
    oldest_end_ns: int | None = None
    newest_end_ns: int | None = None
    file_bytes_before: int = 0
    used_bytes_before: int = 0
    file_bytes_after: int = 0
    used_bytes_after: int = 0
    free_bytes_after: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune(
    principal: Principal,
    store: SpanStore,
    policy: Policy,
    *,
    dry_run: bool,
    now_ns: int | None = None,
) -> PruneReport:
    """Delete (or with ``dry_run`` only list) what ``policy`` removes now."""
    principal.require_admin()
    started = time.monotonic()
    now = time.time_ns() if now_ns is None else now_ns
    cutoff = now - policy.max_age_ns if policy.max_age_ns is not None else None
    report = PruneReport(dry_run, cutoff, policy.max_disk_bytes)
    size = store.size()
    report.file_bytes_before, report.used_bytes_before = size.file_bytes, size.used_bytes
    quiet_before = now - policy.quiet_ns
    cursor = None  # a dry run's place in the walk (a real run deletes what it passed)
    if cutoff is not None:
        cursor = _walk(store, report, cutoff, quiet_before, None, cursor)
    used = size.used_bytes
    for _ in range(_DISK_ROUNDS):
        wanted = _spans_over_limit(store, policy, report)
        if not wanted:
            break
        cursor = _walk(store, report, None, quiet_before, wanted, cursor)
        if dry_run or not store.reclaim():
            break
        # Only whole row groups (122,880 spans) become free blocks: when a round freed
        # nothing, more deletions would not either until more row groups empty.
        now_used = store.size().used_bytes
        if now_used >= used:
            break
        used = now_used
    if report.traces and not dry_run:
        store.reclaim()
    after = store.size()
    report.file_bytes_after, report.used_bytes_after = after.file_bytes, after.used_bytes
    report.free_bytes_after = after.free_bytes
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _spans_over_limit(store: SpanStore, policy: Policy, report: PruneReport) -> int:
    """How many more spans to delete for the store to fit under the disk limit."""
    if policy.max_disk_bytes is None:
        return 0
    size = store.size()
    used, spans = size.used_bytes, size.spans
    if report.dry_run:  # nothing was deleted: count what the walk so far would free
        per_span = used / max(spans, 1)
        used -= int(report.spans * per_span)
        spans -= report.spans
    if used <= policy.max_disk_bytes or spans <= 0:
        return 0
    target = policy.max_disk_bytes * (1 - _DISK_SPARE)
    return max(1, math.ceil((used - target) / (used / spans)))


Cursor = tuple[int, str] | None


def _walk(
    store: SpanStore,
    report: PruneReport,
    ended_before: int | None,
    quiet_before: int,
    spans_wanted: int | None,
    after: Cursor,
) -> Cursor:
    """Take the oldest traces page by page: all that ended before ``ended_before``, or
    (``spans_wanted``) until that many spans are taken. A dry run pages on past the traces
    it counted (``after``, returned moved); a real run deletes each page and asks again."""
    taken = 0
    while spans_wanted is None or taken < spans_wanted:
        page = store.oldest_traces(
            ended_before_ns=ended_before, quiet_before_ns=quiet_before, limit=_PAGE, after=after
        )
        if spans_wanted is not None:
            page = _enough(page, spans_wanted - taken)
        if not page:
            return after
        for doomed in page:
            report.traces += 1
            report.spans += doomed.span_count
            taken += doomed.span_count
            service = doomed.service_name
            report.by_service[service] = report.by_service.get(service, 0) + 1
            if len(report.trace_ids) < _SHOWN:
                report.trace_ids.append(doomed.trace_id)
            if report.oldest_end_ns is None:
                report.oldest_end_ns = doomed.end_time_ns
            report.newest_end_ns = doomed.end_time_ns
        if report.dry_run:
            after = (page[-1].end_time_ns, page[-1].trace_id)
        else:
            store.delete_traces(page)
    return after


def _enough(page: list[Any], spans: int) -> list[Any]:
    """The leading traces of ``page`` holding at least ``spans`` spans."""
    total = 0
    for count, doomed in enumerate(page, start=1):
        total += doomed.span_count
        if total >= spans:
            return page[:count]
    return page


class RetentionJob:
    """Runs ``prune`` in the server: soon after start, then every ``check_seconds``."""

    def __init__(self, store: SpanStore, policy: Policy, every_s: float) -> None:
        self._store, self._policy, self._every = store, policy, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="junjo-retention", daemon=True)
        self.last: PruneReport | None = None

    def start(self) -> None:
        if self._policy.active:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        wait = min(_FIRST_RUN_AFTER_S, self._every)
        while not self._stop.wait(wait):
            wait = self._every
            try:
                report = prune(Principal.operator(), self._store, self._policy, dry_run=False)
            except Exception:  # a bug or a broken store: say so, try again next time
                log.exception("retention run failed")
                continue
            self.last = report
            if report.traces:
                log.info(
                    "retention deleted %d traces (%d spans) in %.1f s; span store %d -> %d"
                    " bytes used, file %d bytes",
                    report.traces, report.spans, report.seconds, report.used_bytes_before,
                    report.used_bytes_after, report.file_bytes_after,
                )  # fmt: skip


_AGE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(value: str) -> int:
    """``7d``, ``12h``, ``30m``, ``2w`` → ns."""
    match = _AGE.match(value.strip())
    if match is None:
        raise InvalidInput(f"--older-than: {value!r}: use an age such as 7d, 12h or 30m")
    return int(match[1]) * _AGE_SECONDS[match[2]] * 10**9
