"""Where WAL batches are converted to rows: in a worker process, or in this one.

Conversion is the indexer's most expensive step and it is pure Python, so in the server
process it competes for the GIL with the request threads and leaves the second core idle.
A single worker process (started with ``spawn``: forking a process that runs gRPC threads
is unsafe) converts one group while the server process writes the previous one; rows come
back pickled, which costs a fifteenth of converting them. If the worker dies, the group is
converted here and a new worker is started for the next one.

The worker is started for the first group of at least ``WORKER_MIN_SPANS`` spans or
``WORKER_MIN_BYTES`` bytes; smaller groups (a quiet server) are converted in-process, where
the round trip would cost more than it saves. The indexer closes the converter after 30 idle
seconds, so an idle server carries no extra process.

The worker exits by itself when the server dies without closing it (``kill -9``): a thread
in it watches the parent process, since a worker blocked on its job queue would otherwise
outlive the server forever.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from junjo.features.spans.convert import DEFAULT_MAX_VALUE_BYTES, ConvertedBatch, convert_request
from junjo.kernel.wal import WalBatch

log = logging.getLogger("junjo.indexer")

# One WAL batch on its way to the store: converted rows, or the reason it is quarantined.
Unit = tuple[WalBatch, ConvertedBatch | None, str | None]
_Job = tuple[bytes, int, str | None, int | None]
# How often the worker checks that the server is still there.
_PARENT_POLL_S = 0.5


def convert_one(
    payload: bytes,
    seq: int,
    key_id: str | None,
    received: int | None,
    now: int,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> tuple[ConvertedBatch | None, str | None]:
    """(rows, None) or (None, why it is quarantined). Runs in either process."""
    try:
        converted = convert_request(
            payload,
            seq=seq,
            api_key_id=key_id,
            received_at_ns=received,
            indexed_at_ns=now,
            max_value_bytes=max_value_bytes,
        )
    except Exception as exc:  # undecodable: kept aside, the rest indexed
        return None, f"convert: {type(exc).__name__}: {exc}"
    return converted, None


def _convert_jobs(
    jobs: list[_Job], now: int, max_value_bytes: int
) -> list[tuple[ConvertedBatch | None, str | None]]:
    return [
        convert_one(payload, seq, key, received, now, max_value_bytes)
        for payload, seq, key, received in jobs
    ]


def _exit_with_parent(parent_pid: int) -> None:
    """The worker's initializer: exit as soon as the server process is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_S)
        os._exit(0)  # the server died: nothing here is worth finishing

    threading.Thread(target=watch, name="junjo-worker-watch", daemon=True).start()


# A group this large (in spans, or in bytes for a few big spans) is converted in the worker.
WORKER_MIN_SPANS = 2048
WORKER_MIN_BYTES = 2 << 20


class Converter:
    def __init__(self, *, use_worker: bool, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> None:
        self._use_worker = use_worker
        self._max_value_bytes = max_value_bytes
        self._pool: ProcessPoolExecutor | None = None

    def convert(self, batches: list[WalBatch], now: int) -> list[Unit]:
        big = (
            sum(batch.span_count for batch in batches) >= WORKER_MIN_SPANS
            or sum(len(batch.payload) for batch in batches) >= WORKER_MIN_BYTES
        )
        results = self._in_worker(batches, now) if self._use_worker and big else None
        if results is None:
            results = _convert_jobs([_job(b) for b in batches], now, self._max_value_bytes)
        units = []
        for batch, (converted, error) in zip(batches, results, strict=True):
            if error:
                log.warning("quarantining WAL batch %d: %s", batch.seq, error)
            units.append((batch, converted, error))
        return units

    def _in_worker(self, batches: list[WalBatch], now: int) -> list[Any] | None:
        try:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=context,
                    initializer=_exit_with_parent,
                    initargs=(os.getpid(),),
                )
            jobs = [_job(b) for b in batches]
            return self._pool.submit(_convert_jobs, jobs, now, self._max_value_bytes).result()
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            log.warning("conversion worker failed (%s); converting in-process this time", exc)
            self.close()
            return None

    @property
    def worker_running(self) -> bool:
        return self._pool is not None

    def close(self) -> None:
        """Stop the worker, if one runs (the next big group starts another)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _job(batch: WalBatch) -> _Job:
    return (batch.payload, batch.seq, batch.api_key_id, batch.received_at_ns)
