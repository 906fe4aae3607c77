"""OTLP/gRPC ingestion against the real runtime: SDK exporter and raw calls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from junjo.features.api_keys.service import delete_key
from junjo.kernel.principal import Principal
from tests.ingest.conftest import Harness
from tests.support.export import TRACE_EXPORT, grpc_exporter, sdk_spans, span_keys
from tests.support.otlp_builders import SpanIds, new_ids, request_bytes
from tests.support.wait import wait_until

METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


def test_sdk_exporter_spans_are_indexed(server: Harness):
    spans = sdk_spans(5)
    assert grpc_exporter(server.grpc_target, server.keys.ingest).export(spans) == (
        SpanExportResult.SUCCESS
    )
    assert sorted(server.stored()) == sorted(span_keys(spans))


def test_sdk_exporter_with_gzip(server: Harness):
    spans = sdk_spans(20)
    exporter = grpc_exporter(server.grpc_target, server.keys.ingest, gzip=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert sorted(server.stored()) == sorted(span_keys(spans))


def test_missing_and_unknown_keys_are_unauthenticated(server: Harness):
    payload = request_bytes(new_ids(1))
    code, _, details = server.call(TRACE_EXPORT, payload, key=None)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "Missing" in details
    code, _, details = server.call(TRACE_EXPORT, payload, key="not-a-real-key")
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "Invalid" in details
    assert server.stored() == []


def test_read_scope_key_cannot_ingest(server: Harness):
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)), key="read")
    assert code == grpc.StatusCode.PERMISSION_DENIED


def test_sdk_exporter_does_not_retry_a_bad_key(server: Harness):
    result = grpc_exporter(server.grpc_target, "wrong").export(sdk_spans(1))
    assert result == SpanExportResult.FAILURE
    # Counted, not timed (a retry would come after a 1 s backoff): one attempt only.
    assert server.runtime.service.refusals()["unauthenticated"] == 1


def test_deleted_key_is_refused_on_the_next_request(server: Harness):
    payload = request_bytes(new_ids(1))
    assert server.call(TRACE_EXPORT, payload)[0] == grpc.StatusCode.OK  # the key is cached now
    delete_key(server.keys.control.db, Principal.operator(), server.keys.ingest_id)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_malformed_request_is_invalid_argument_and_server_keeps_serving(server: Harness):
    code, _, details = server.call(TRACE_EXPORT, b"\xff\xff\xff garbage")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed" in details
    ids = new_ids(2)
    assert server.call(TRACE_EXPORT, request_bytes(ids))[0] == grpc.StatusCode.OK
    assert sorted(server.stored()) == sorted(i.key for i in ids)


def test_bad_ids_give_partial_success_and_the_rest_is_stored(server: Harness):
    good = new_ids(3)
    bad = [SpanIds(bytes(16), b"\x01" * 8), SpanIds(b"\x02" * 16, b"\x03" * 5)]
    code, response, _ = server.call(TRACE_EXPORT, request_bytes([good[0], *bad, *good[1:]]))
    assert code == grpc.StatusCode.OK
    partial = ExportTraceServiceResponse.FromString(response).partial_success
    assert partial.rejected_spans == 2
    assert "trace_id" in partial.error_message
    assert sorted(server.stored()) == sorted(i.key for i in good)
    assert server.runtime.service.status()["rejected_spans"] == 2


def test_gzip_raw_call(server: Harness):
    ids = new_ids(4)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(ids), compression=grpc.Compression.Gzip)
    assert code == grpc.StatusCode.OK
    assert sorted(server.stored()) == sorted(i.key for i in ids)


def test_messages_above_4_mib_accepted_above_the_limit_refused(start_server):
    server = start_server(grpc_max_receive_mb=8)
    big = new_ids(6)
    payload = request_bytes(big, padding=1 << 20)  # about 6 MiB
    assert 4 << 20 < len(payload) < 8 << 20
    assert server.call(TRACE_EXPORT, payload)[0] == grpc.StatusCode.OK
    too_big = request_bytes(new_ids(9), padding=1 << 20)
    assert server.call(TRACE_EXPORT, too_big)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sorted(server.stored()) == sorted(i.key for i in big)


def test_resending_a_batch_does_not_duplicate_spans(server: Harness):
    ids = new_ids(10)
    payload = request_bytes(ids)
    for _ in range(3):
        assert server.call(TRACE_EXPORT, payload)[0] == grpc.StatusCode.OK
    stored = server.stored()
    assert Counter(stored) == Counter(i.key for i in ids)
    assert server.runtime.service.status()["accepted"]["batches"] == 3


def test_backlog_over_bound_is_resource_exhausted(start_server):
    server = start_server(ingest_max_backlog_mb=0)
    server.runtime.indexer.stop(timeout=5)  # nothing drains the backlog now
    assert server.call(TRACE_EXPORT, request_bytes(new_ids(1)))[0] == grpc.StatusCode.OK
    code, _, details = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "backlog" in details
    assert server.runtime.service.status()["refused_batches"]["backlog"] == 1


def test_low_disk_is_unavailable(start_server):
    server = start_server(ingest_min_free_disk_mb=1 << 40)
    code, _, details = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "disk" in details


def test_shutting_down_is_unavailable(server: Harness):
    server.runtime.service.close(timeout=1)
    code, _, _ = server.call(TRACE_EXPORT, request_bytes(new_ids(1)))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert server.call(HEALTH_CHECK, b"")[1] == b"\x08\x02"  # NOT_SERVING


def test_metrics_and_logs_exports_answer_success_with_a_key(server: Harness):
    for method in (METRICS_EXPORT, LOGS_EXPORT):
        assert server.call(method, b"") == (grpc.StatusCode.OK, b"", "")
        assert server.call(method, b"", key=None)[0] == grpc.StatusCode.UNAUTHENTICATED


def test_health_check(server: Harness):
    assert server.call(HEALTH_CHECK, b"", key=None) == (grpc.StatusCode.OK, b"\x08\x01", "")
    named = b"\x0a\x33opentelemetry.proto.collector.trace.v1.TraceService"
    assert server.call(HEALTH_CHECK, named, key=None)[1] == b"\x08\x01"
    assert server.call(HEALTH_CHECK, b"\x0a\x03foo", key=None)[0] == grpc.StatusCode.NOT_FOUND
    assert server.call(HEALTH_CHECK, b"\x0a\x09ab", key=None)[0] == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


def test_unknown_method_is_unimplemented(server: Harness):
    code, _, _ = server.call("/opentelemetry.proto.collector.trace.v1.TraceService/Nope", b"")
    assert code == grpc.StatusCode.UNIMPLEMENTED


def test_gzip_that_inflates_past_the_limit_is_refused(start_server):
    server = start_server(grpc_max_receive_mb=8)
    payload = request_bytes(new_ids(40), padding=1 << 20)  # 40 MiB that gzips to little
    code, _, details = server.call(TRACE_EXPORT, payload, compression=grpc.Compression.Gzip)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Decompressed" in details


def test_paced_exports_count_against_the_in_flight_byte_budget(start_server, monkeypatch):
    # gRPC hands over bodies already read: a paced one must be inside the memory budget.
    server = start_server()
    service = server.runtime.service
    monkeypatch.setattr(service, "pacing_delay", lambda: 1.0)  # as if the indexer is behind
    big = request_bytes(new_ids(1), padding=600_000)
    monkeypatch.setattr(service._admission, "_max_bytes", len(big) + 100_000)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(server.call, TRACE_EXPORT, big)
        # The first is paced now, holding its bytes.
        wait_until(lambda: service._admission.requests, timeout=10)
        second = server.call(TRACE_EXPORT, request_bytes(new_ids(1), padding=600_000))
        assert first.result()[0] == grpc.StatusCode.OK
    assert second[0] == grpc.StatusCode.UNAVAILABLE
    assert "in flight" in second[2]
    assert service._admission.bytes == 0


def test_calls_whose_message_never_comes_time_out_and_block_nothing(start_server):
    server = start_server(grpc_receive_timeout_seconds=2)
    release = threading.Event()

    def never() -> Any:
        release.wait(30)
        yield from ()

    channel = grpc.insecure_channel(server.grpc_target)
    metadata = (("x-junjo-api-key", server.keys.ingest),)
    try:
        # More silent calls than handler threads (16): none of them holds one.
        stalled = [
            channel.stream_unary(TRACE_EXPORT).future(never(), metadata=metadata) for _ in range(24)
        ]
        ids = new_ids(2)
        assert server.call(TRACE_EXPORT, request_bytes(ids))[0] == grpc.StatusCode.OK
        for call in stalled:
            with pytest.raises(grpc.RpcError) as error:
                call.result(timeout=30)
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "not received within 2 s" in error.value.details()
        assert sorted(server.stored()) == sorted(i.key for i in ids)
        assert server.runtime.service.refusals()["timed_out"] == 24
    finally:
        release.set()
        channel.close()


def test_a_call_without_a_message_is_invalid(server: Harness):
    metadata = (("x-junjo-api-key", server.keys.ingest),)
    with (
        grpc.insecure_channel(server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        channel.stream_unary(TRACE_EXPORT)(iter(()), timeout=10, metadata=metadata)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_caller_without_a_key_is_refused_before_its_message_is_read(server: Harness):
    # The message never comes: the key is checked first, so the answer is immediate, not a
    # DEADLINE_EXCEEDED after the receive timeout, and nothing of the caller's is held.
    never = threading.Event()

    def no_message():
        never.wait(30)
        yield b""

    started = time.monotonic()
    with (
        grpc.insecure_channel(server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        channel.stream_unary(TRACE_EXPORT)(no_message(), timeout=20)
    never.set()
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert time.monotonic() - started < 10


HEALTH_WATCH = "/grpc.health.v1.Health/Watch"


def watch(server: Harness, request: bytes = b"") -> tuple[grpc.Channel, Any]:
    """An open Health/Watch stream (close the channel when done)."""
    channel = grpc.insecure_channel(server.grpc_target)
    return channel, channel.unary_stream(HEALTH_WATCH)(request, timeout=30)


def test_health_watch_reports_serving_then_not_serving_at_shutdown(server: Harness):
    channel, stream = watch(server)
    try:
        assert next(stream) == b"\x08\x01"  # SERVING
        started = time.monotonic()
        stopping = threading.Thread(target=server.runtime.stop, args=(10,))
        stopping.start()
        assert list(stream) == [b"\x08\x02"]  # NOT_SERVING, then the stream ends
        stopping.join(15)
        assert time.monotonic() - started < 5  # an open watch does not hold up the stop
    finally:
        channel.close()


def test_health_watch_of_an_unknown_service_stays_open(server: Harness):
    channel, stream = watch(server, b"\x0a\x03foo")
    try:
        assert next(stream) == b"\x08\x03"  # SERVICE_UNKNOWN, and the call goes on
        stream.cancel()
    finally:
        channel.close()


def test_health_watches_are_bounded_and_exports_keep_working(server: Harness):
    opened = [watch(server) for _ in range(4)]
    try:
        assert [next(stream) for _, stream in opened] == [b"\x08\x01"] * 4
        channel, extra = watch(server)
        with pytest.raises(grpc.RpcError) as refused:
            next(extra)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        channel.close()
        ids = new_ids(2)
        assert server.call(TRACE_EXPORT, request_bytes(ids))[0] == grpc.StatusCode.OK
        assert sorted(server.stored()) == sorted(i.key for i in ids)
    finally:
        for channel, stream in opened:
            stream.cancel()
            channel.close()
