"""The ingestion side of ``junjo serve``: WAL, span store, indexer thread, gRPC server.

Built and started by the feature's lifespan, on the span store the spans feature opened
(and closes after this has stopped). The WAL is opened in ``__init__`` so a broken data dir
fails before any port is bound; ``start()`` starts the threads and binds the gRPC port;
``stop()`` shuts down in the order that loses nothing:

1. refuse new exports (both doors answer UNAVAILABLE / 503) and stop the gRPC listener;
2. let in-flight exports finish, each one either acked after its WAL commit or refused;
3. stop the indexer (it indexes what is quick; the rest waits in the WAL for next start);
4. close the WAL (committing any append still queued).
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from junjo.config import ConfigError, Settings
from junjo.features.ingest.grpc_server import GrpcIngestServer
from junjo.features.ingest.masking import Masker, MaskingConfigError, masker_for
from junjo.features.ingest.service import IngestLimits, IngestService, KeyVerifierLike
from junjo.features.spans import Indexer, SpanStore
from junjo.kernel.tls import tls_files
from junjo.kernel.wal import WriteAheadLog

log = logging.getLogger("junjo.ingest")

MIB = 1 << 20
# The indexer's Python conversion loop (convert.py) holds the GIL in long stretches. An export
# passes the GIL between threads several times (gRPC handler, WAL writer, back), and each
# hand-off can wait a full switch interval: at the default 5 ms that doubled export latency
# under load (measured: p50 22 -> 15 ms, p99 64 -> 27 ms at 2,000 spans/s with 1 ms).
GIL_SWITCH_INTERVAL_S = 0.001


def checked_masker(settings: Settings) -> Masker | None:
    """The masking rules compiled; a bad one is a ConfigError."""
    try:
        masker = masker_for(settings.masking)
    except MaskingConfigError as exc:
        raise ConfigError(f"setting {exc}") from None
    return masker


def checked_converter(settings: Settings) -> None:
    """``converter = "native"`` without a usable C extension is a ConfigError."""
    from junjo.features.spans import NativeUnavailable, uses_native

    try:
        uses_native(settings.converter)
    except NativeUnavailable as exc:
        raise ConfigError(str(exc)) from None


class IngestRuntime:
    def __init__(
        self,
        settings: Settings,
        store: SpanStore,
        key_verifier: KeyVerifierLike,
        *,
        grpc_workers: int = 16,
        grpc_max_connections: int | None = None,
    ) -> None:
        self.settings = settings
        masker = checked_masker(settings)  # before any file is opened
        checked_converter(settings)
        if masker is not None:
            log.info("masking spans before they are stored: %s", masker.describe())
        settings.ensure_data_dir()
        self.wal = WriteAheadLog(settings.wal_path)
        self.store = store
        self.indexer = Indexer(
            self.wal,
            self.store,
            converter=settings.converter,
            max_value_bytes=settings.max_attribute_value_kb * 1024,
        )
        limits = IngestLimits.from_settings(settings)
        # Checked already by `junjo serve` before it bound a port; read again here for the
        # gRPC door, which takes the PEM bytes.
        tls = tls_files(settings)
        self.service = IngestService(self.wal, self.indexer, limits, masker)
        self._grpc = GrpcIngestServer(
            self.service,
            key_verifier,
            host=settings.host,
            port=settings.grpc_port,
            max_receive_bytes=settings.grpc_max_receive_mb * MIB,
            workers=grpc_workers,
            receive_timeout_s=settings.grpc_receive_timeout_seconds,
            handshake_timeout_s=settings.header_timeout_seconds,
            max_connections=grpc_max_connections,
            tls=(tls.key_pem, tls.cert_pem) if tls else None,
        )
        self.tls = tls is not None
        self.grpc_port = 0
        self._started = False
        self._stopped = False
        self._stop_lock = threading.Lock()

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self.indexer.start()
        self._started = True
        self.grpc_port = self._grpc.start()
        over = " over TLS" if self.tls else ""
        log.info("OTLP/gRPC%s listening on %s:%d", over, self.settings.host, self.grpc_port)
        # Only now: a port that cannot be bound is the one line `junjo serve` prints.
        log.info("span conversion: %s", self.indexer.conversion)

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
            # Index what is quick; the rest stays in the WAL and is indexed on next start.
            remaining = grace - (time.monotonic() - started)
            if not self.indexer.stop(timeout=max(1.0, min(5.0, remaining))):
                log.warning("indexer still busy at shutdown; the WAL keeps the rest")
        self.wal.close()
        log.info("ingestion stopped")
