"""The ingestion side of ``junjo serve``: WAL, span store, indexer thread, gRPC server.

Storage is opened in ``__init__`` so a broken data dir fails before any port is bound and
so ``service`` exists when the web app is built; ``start()`` starts the threads and binds
the gRPC port; ``stop()`` shuts down in the order that loses nothing:

1. refuse new exports (both doors answer UNAVAILABLE / 503) and stop the gRPC listener;
2. let in-flight exports finish, each one either acked after its WAL commit or refused;
3. stop the indexer (it indexes what is quick; the rest waits in the WAL for next start);
4. close the WAL (committing any append still queued) and DuckDB.
"""

from __future__ import annotations

import logging
import threading
import time

from starlette.routing import BaseRoute

from junjo.config import Settings
from junjo.features.ingest import http
from junjo.features.ingest.grpc_server import GrpcIngestServer
from junjo.features.ingest.service import IngestLimits, IngestService, KeyVerifierLike
from junjo.features.ingest.wal import WriteAheadLog
from junjo.features.spans.indexer import Indexer
from junjo.features.spans.store import SpanStore

log = logging.getLogger("junjo.ingest")

MIB = 1 << 20


class IngestRuntime:
    routes: list[BaseRoute] = http.routes

    def __init__(
        self, settings: Settings, key_verifier: KeyVerifierLike, *, grpc_workers: int = 16
    ) -> None:
        self.settings = settings
        settings.ensure_data_dir()
        self.wal = WriteAheadLog(settings.wal_path)
        try:
            self.store = SpanStore.open(settings.spans_db_path)
        except BaseException:
            self.wal.close()
            raise
        self.indexer = Indexer(self.wal, self.store)
        self.service = IngestService(self.wal, self.indexer, IngestLimits.from_settings(settings))
        self._grpc = GrpcIngestServer(
            self.service,
            key_verifier,
            host=settings.host,
            port=settings.grpc_port,
            max_receive_bytes=settings.grpc_max_receive_mb * MIB,
            workers=grpc_workers,
        )
        self.grpc_port = 0
        self._started = False
        self._stopped = False
        self._stop_lock = threading.Lock()

    def start(self) -> None:
        self.indexer.start()
        self._started = True
        self.grpc_port = self._grpc.start()
        log.info("OTLP/gRPC listening on %s:%d", self.settings.host, self.grpc_port)

    def stop(self, grace: float = 10) -> None:
        """Graceful shutdown within about ``grace`` seconds (plus the indexer's flush)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        started = time.monotonic()
        # The gRPC stop runs beside the drain: new calls are refused at once either way.
        grpc_stop = threading.Thread(target=self._grpc.stop, args=(grace,), daemon=True)
        grpc_stop.start()
        if not self.service.close(timeout=grace):
            log.warning("some exports were still in flight after %.0f s", grace)
        grpc_stop.join(grace + 2)
        # The indexer reads through the WAL's connection, so it stops first. Every acked
        # append is already committed (in-flight exports have returned).
        if self._started:
            remaining = max(1.0, grace - (time.monotonic() - started))
            self.indexer.stop(timeout=remaining)
        self.wal.close()
        self.store.close()
        log.info("ingestion stopped")
