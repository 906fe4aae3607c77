"""OTLP/HTTP ingestion and the status route, against the real runtime over real sockets."""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import replace

import httpx
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.conftest import LOCAL_TOKEN
from tests.ingest.conftest import Harness
from tests.support.export import http_exporter, sdk_spans, span_keys
from tests.support.otlp_builders import (
    SpanIds,
    gzip_bomb,
    gzipped,
    json_body,
    new_ids,
    request_bytes,
)
from tests.support.span_store import query
from tests.support.wait import wait_until

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def post(server: Harness, body: bytes, headers: dict[str, str], key: str | None = "ingest"):
    raw_key = {"ingest": server.keys.ingest, "read": server.keys.read}.get(key or "", key)
    if raw_key:
        headers = {**headers, "x-junjo-api-key": raw_key}
    return httpx.post(f"{server.http_url}/v1/traces", content=body, headers=headers, timeout=30)


def test_sdk_http_exporter_protobuf(server: Harness):
    spans = sdk_spans(6)
    assert http_exporter(server.http_url, server.keys.ingest).export(spans) == (
        SpanExportResult.SUCCESS
    )
    assert sorted(server.stored()) == sorted(span_keys(spans))


def test_sdk_http_exporter_gzip_and_bearer(server: Harness):
    spans = sdk_spans(6)
    exporter = http_exporter(server.http_url, server.keys.ingest, gzip=True, bearer=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert sorted(server.stored()) == sorted(span_keys(spans))


def test_protobuf_response_is_an_export_response(server: Harness):
    response = post(server, request_bytes(new_ids(2)), PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()


def test_json_with_hex_ids_is_stored(server: Harness):
    ids = new_ids(3)
    response = post(server, json_body(ids), JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert sorted(server.stored()) == sorted(i.key for i in ids)


def test_json_gzip(server: Harness):
    ids = new_ids(3)
    response = post(server, gzipped(json_body(ids)), {**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert sorted(server.stored()) == sorted(i.key for i in ids)


def test_partial_success_in_json_and_protobuf(server: Harness):
    good = new_ids(2)
    bad = SpanIds(bytes(16), b"\x01" * 8)
    response = post(server, json_body([good[0], bad]), JSON)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    response = post(server, request_bytes([bad, good[1]]), PROTOBUF)
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1
    assert sorted(server.stored()) == sorted(i.key for i in good)


def test_auth_errors(server: Harness):
    body = request_bytes(new_ids(1))
    missing = post(server, body, PROTOBUF, key=None)
    assert missing.status_code == 401
    assert status_pb2.Status.FromString(missing.content).code == 16
    assert post(server, body, PROTOBUF, key="nope").status_code == 401
    forbidden = post(server, body, JSON, key="read")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == 7
    # 401 comes before any content check
    assert post(server, b"x", {"Content-Type": "text/plain"}, key=None).status_code == 401


def test_unsupported_media_type_and_encoding(server: Harness):
    body = request_bytes(new_ids(1))
    assert post(server, body, {"Content-Type": "text/plain"}).status_code == 415
    assert post(server, body, {**PROTOBUF, "Content-Encoding": "br"}).status_code == 415


def test_malformed_bodies_are_400_and_server_keeps_serving(server: Harness):
    bad_proto = post(server, b"\xff\xff\xff", PROTOBUF)
    assert bad_proto.status_code == 400
    assert "malformed" in status_pb2.Status.FromString(bad_proto.content).message
    bad_json = post(server, b"{oops", JSON)
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == 3
    bad_gzip = post(server, b"not gzip", {**JSON, "Content-Encoding": "gzip"})
    assert bad_gzip.status_code == 400
    ids = new_ids(1)
    assert post(server, request_bytes(ids), PROTOBUF).status_code == 200
    assert server.stored() == [ids[0].key]


def test_too_large_bodies_are_413(start_server):
    server = start_server(http_max_body_mb=1)
    big = request_bytes(new_ids(2), padding=600_000)
    assert post(server, big, PROTOBUF).status_code == 413
    bomb = post(server, gzip_bomb(5 << 20), {**PROTOBUF, "Content-Encoding": "gzip"})
    assert bomb.status_code == 413

    def chunks():  # no Content-Length: the streaming limit applies
        for _ in range(3):
            yield b"\x00" * 500_000

    streamed = httpx.post(
        f"{server.http_url}/v1/traces",
        content=chunks(),
        headers={**PROTOBUF, "x-junjo-api-key": server.keys.ingest},
    )
    assert streamed.status_code == 413
    assert post(server, request_bytes(new_ids(1)), PROTOBUF).status_code == 200


def test_backlog_over_bound_is_429_with_retry_after(start_server):
    server = start_server(ingest_max_backlog_mb=0)
    server.runtime.indexer.stop(timeout=5)
    assert post(server, request_bytes(new_ids(1)), PROTOBUF).status_code == 200
    response = post(server, request_bytes(new_ids(1)), PROTOBUF)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert status_pb2.Status.FromString(response.content).code == 8


def test_low_disk_and_shutdown_are_503_with_retry_after(start_server):
    server = start_server(ingest_min_free_disk_mb=1 << 40)
    response = post(server, request_bytes(new_ids(1)), JSON)
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert response.json()["code"] == 14


def test_an_unexpected_error_is_503_with_retry_after_and_logged_once(
    server: Harness, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in accept")

    monkeypatch.setattr(server.runtime.service, "accept", broken)
    with caplog.at_level(logging.ERROR):
        response = post(server, request_bytes(new_ids(1)), PROTOBUF)
        as_json = post(server, json_body(new_ids(1)), JSON)
    assert response.status_code == 503  # OTLP clients retry 503 and drop a batch on 500
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["content-type"] == "application/x-protobuf"
    status = status_pb2.Status.FromString(response.content)
    assert (status.code, status.message) == (14, "temporary server error; retry later")
    assert (as_json.status_code, as_json.json()["code"]) == (503, 14)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "unexpected error in POST /v1/traces"
    ] * 2  # once per request, with the traceback, and nothing else
    assert all("a bug in accept" in str(record.exc_info[1]) for record in errors)


def test_a_gzip_body_of_many_empty_members_is_400_at_once(server: Harness):
    started = time.monotonic()
    response = post(server, gzipped(b"") * 200_000, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "members" in status_pb2.Status.FromString(response.content).message
    assert time.monotonic() - started < 2


def raw_export(server: Harness, declared: int, sent: bytes) -> socket.socket:
    """An export over a raw socket: headers declaring ``declared`` bytes, then ``sent``."""
    host, port = server.http_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: junjo\r\nContent-Type: application/x-protobuf\r\n"
        + f"x-junjo-api-key: {server.keys.ingest}\r\nContent-Length: {declared}\r\n\r\n".encode()
        + sent
    )
    return sock


def response_until_closed(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line and headers, body) of what the server sent before closing."""
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    return head, body


def wait_for_in_flight_bytes(server: Harness, at_least: int) -> None:
    def in_flight() -> dict:
        return server.runtime.service.status()["in_flight"]

    wait_until(lambda: in_flight()["bytes"] >= at_least, 10, message=lambda: str(in_flight()))


def test_a_stalled_body_is_408_closed_and_frees_its_budget(start_server):
    server = start_server(http_body_timeout_seconds=1)
    service = server.runtime.service
    with raw_export(server, 1 << 20, b"\x0a" * 1000) as stalled:
        wait_for_in_flight_bytes(server, 1000)  # what arrived is held, not the 1 MiB declared
        assert service.status()["in_flight"] == {"requests": 0, "bytes": 1000}
        head, body = response_until_closed(stalled)
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    status = status_pb2.Status.FromString(body)
    assert status.code == 4 and "too slow" in status.message  # DEADLINE_EXCEEDED
    assert service.status()["in_flight"] == {"requests": 0, "bytes": 0}
    assert service.refusals()["timed_out"] == 1
    assert post(server, request_bytes(new_ids(1)), PROTOBUF).status_code == 200


def test_bodies_claim_the_budget_as_they_arrive_and_are_503_when_it_is_gone(
    start_server, monkeypatch
):
    server = start_server()
    monkeypatch.setattr(server.runtime.service._admission, "_max_bytes", 1_000_000)
    with raw_export(server, 900_000, b"\x0a" * 700_000):
        wait_for_in_flight_bytes(server, 700_000)
        refused = post(server, request_bytes(new_ids(1), padding=400_000), PROTOBUF)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "in flight" in status_pb2.Status.FromString(refused.content).message
        # 200 KB fits in what is left of the budget: 300 KB, not the 100 KB left if the
        # half-sent body held all it declared.
        fits = post(server, request_bytes(new_ids(1), padding=200_000), PROTOBUF)
        assert fits.status_code == 200
    # The half-sent body's client went away: its bytes are freed.
    wait_until(lambda: not server.runtime.service.status()["in_flight"]["bytes"])
    assert post(server, request_bytes(new_ids(1), padding=400_000), PROTOBUF).status_code == 200


def test_metrics_and_logs_are_authenticated_no_ops(server: Harness):
    for path in ("/v1/metrics", "/v1/logs"):
        url = f"{server.http_url}{path}"
        ok = httpx.post(
            url, content=b"", headers={**PROTOBUF, "x-junjo-api-key": server.keys.ingest}
        )
        assert (ok.status_code, ok.content) == (200, b"")
        assert httpx.post(url, content=b"{}", headers=JSON).status_code == 401


def test_status_needs_a_session_or_read_key(server: Harness):
    url = f"{server.http_url}/api/v1/ingest/status"
    assert httpx.get(url).status_code == 401
    ingest_key = httpx.get(url, headers={"Authorization": f"Bearer {server.keys.ingest}"})
    assert ingest_key.status_code == 403
    assert post(server, request_bytes(new_ids(4)), PROTOBUF).status_code == 200
    server.stored()
    response = httpx.get(url, headers={"Authorization": f"Bearer {server.keys.read}"})
    assert response.status_code == 200
    status = response.json()
    assert status["accepted"] == {"batches": 1, "spans": 4}
    assert status["indexed"]["spans"] == 4
    assert status["backlog"]["bytes"] >= 0
    assert status["indexer_lag_seconds"] >= 0
    assert set(status["quarantined"]) == {"batches", "spans"}
    json.dumps(status)


def test_otlp_doors_answer_any_host(server: Harness):
    """Exporters may use any name that reaches the server (e.g. a docker-compose service
    name nobody listed in allowed_hosts): a 400 would make them drop the batch."""
    ids = new_ids(2)
    named = {**PROTOBUF, "Host": "junjo_collector:4318"}
    assert post(server, request_bytes(ids), named).status_code == 200
    assert sorted(server.stored()) == sorted(i.key for i in ids)
    ui = httpx.get(f"{server.http_url}/api/v1/ingest/status", headers={"Host": "evil.example"})
    assert ui.status_code == 400


def test_error_bodies_match_the_documented_google_rpc_status(server: Harness):
    document = httpx.get(f"{server.http_url}/openapi.json").json()
    responses = document["paths"]["/v1/traces"]["post"]["responses"]
    body = request_bytes(new_ids(1))
    as_json = post(server, body, JSON, key=None)
    as_protobuf = post(server, body, PROTOBUF, key=None)
    assert as_json.status_code == as_protobuf.status_code == 401
    schema = responses["401"]["content"]["application/json"]["schema"]
    assert set(as_json.json()) == set(schema["required"]) == set(schema["properties"])
    assert isinstance(as_json.json()["code"], int) and as_json.json()["message"]
    assert (
        "google.rpc.Status"
        in responses["401"]["content"]["application/x-protobuf"]["schema"]["description"]
    )
    assert status_pb2.Status.FromString(as_protobuf.content).code == as_json.json()["code"]
    assert as_protobuf.headers["content-type"] == "application/x-protobuf"


FLUSH_WAL = "/api/admin/flush-wal"
OPERATOR = {"Authorization": f"Bearer {LOCAL_TOKEN}"}


def test_flush_wal_indexes_what_waits_and_answers_success_and_message(server: Harness):
    """Junjo AI Studio's settings page: POST, no body; it shows ``message``."""
    ids = new_ids(3)
    assert post(server, request_bytes(ids), PROTOBUF).status_code == 200
    flushed = httpx.post(server.http_url + FLUSH_WAL, headers=OPERATOR, timeout=30)
    assert flushed.status_code == 200
    body = flushed.json()
    assert set(body) == {"success", "message", "spans_indexed"} and body["success"] is True
    assert body["message"] == f"WAL flush completed, {body['spans_indexed']} span(s) indexed"
    # Indexed when the answer came: no waiting for the indexer.
    stored = query(server.runtime.store, "SELECT trace_id, span_id FROM spans")
    assert sorted(stored) == sorted(i.key for i in ids)
    again = httpx.post(server.http_url + FLUSH_WAL, headers=OPERATOR, timeout=30)
    assert again.json() == {
        "success": True,
        "message": "WAL flush completed, 0 span(s) indexed",
        "spans_indexed": 0,
    }


def test_flush_wal_needs_a_session(server: Harness):
    url = server.http_url + FLUSH_WAL
    assert httpx.post(url).status_code == 401
    for key in (server.keys.read, server.keys.ingest):
        assert httpx.post(url, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_flush_wal_is_503_when_indexing_cannot_finish_in_time(start_server, monkeypatch):
    server = start_server()
    service = server.runtime.service
    monkeypatch.setattr(service, "limits", replace(service.limits, flush_timeout_s=0.2))
    server.runtime.indexer.stop(timeout=5)
    assert post(server, request_bytes(new_ids(1)), PROTOBUF).status_code == 200
    started = time.monotonic()
    response = httpx.post(server.http_url + FLUSH_WAL, headers=OPERATOR, timeout=30)
    assert time.monotonic() - started < 5  # bounded: the request is not held
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert "did not catch up within 0.2 s" in response.json()["detail"]


def test_flush_wal_with_the_session_cookie(signed_in):
    response = signed_in.post(FLUSH_WAL)
    assert response.status_code == 200 and response.json()["success"] is True
