"""Run as a child process by test_otlp_proto.py: import junjo's OTLP messages and the SDK's
(``opentelemetry-proto``) in the order given, then send a request made by the SDK's own
encoder from one set to the other and back, in protobuf and in OTLP/JSON.

    python -m tests.proto.two_message_sets junjo-first|sdk-first
"""

from __future__ import annotations

import importlib
import sys

JUNJO = "junjo.otlp_proto.trace_service_pb2"
SDK = "opentelemetry.proto.collector.trace.v1.trace_service_pb2"


def main(order: str) -> None:
    first, second = (JUNJO, SDK) if order == "junjo-first" else (SDK, JUNJO)
    modules = {name: importlib.import_module(name) for name in (first, second)}
    ours, theirs = modules[JUNJO], modules[SDK]
    assert ours.DESCRIPTOR.pool is not theirs.DESCRIPTOR.pool

    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from tests.support.export import sdk_spans

    spans = sdk_spans(3, service="two-sets")
    sent = encode_spans(spans)  # the exporter's request, in the SDK's own classes
    assert isinstance(sent, theirs.ExportTraceServiceRequest)

    received = ours.ExportTraceServiceRequest.FromString(sent.SerializeToString())
    got = received.resource_spans[0].scope_spans[0].spans
    assert sorted(span.name for span in got) == sorted(span.name for span in spans)
    assert {span.span_id for span in got} == {s.context.span_id.to_bytes(8, "big") for s in spans}
    resource = {a.key: a.value.string_value for a in received.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "two-sets"

    back = theirs.ExportTraceServiceRequest.FromString(received.SerializeToString())
    assert back == sent
    as_json = json_format.MessageToJson(received)
    assert json_format.Parse(as_json, theirs.ExportTraceServiceRequest()) == sent
    assert json_format.Parse(as_json, ours.ExportTraceServiceRequest()) == received
    print(f"{order}: {len(got)} spans both ways")


if __name__ == "__main__":
    main(sys.argv[1])
