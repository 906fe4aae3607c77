"""junjo/otlp_proto: generated from proto/, current, and independent of opentelemetry-proto.

The server speaks OTLP with messages generated from the ``.proto`` files it vendors; the
OpenTelemetry SDK (in tests, and in a user's process next to an embedded server) brings its own
generated copy, of whatever OTLP release. Both must load in one process in any order.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from junjo.features.ingest import grpc_server
from junjo.otlp_proto import logs_service_pb2, metrics_service_pb2, trace_service_pb2

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "junjo" / "otlp_proto"


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def generated_files(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*_pb2.py*"))}


def test_the_committed_modules_are_what_make_proto_generates(tmp_path: Path):
    result = run_python("proto/generate.py", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fresh, committed = generated_files(tmp_path), generated_files(PACKAGE)
    assert sorted(committed) == sorted(fresh), "run `make proto` and commit junjo/otlp_proto"
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert stale == [], f"out of date: {stale}; run `make proto` and commit junjo/otlp_proto"


@pytest.mark.parametrize("order", ["junjo-first", "sdk-first"])
def test_junjo_and_sdk_messages_load_together_in_either_order(order: str):
    result = run_python("-m", "tests.proto.two_message_sets", order)
    assert result.returncode == 0, result.stderr
    assert f"{order}: 3 spans both ways" in result.stdout


# Another OTLP release's common.proto, as an older or newer opentelemetry-proto would register
# it in protobuf's default pool: same file name, different contents.
OTHER_RELEASE_FIRST = """
from google.protobuf import descriptor_pb2, descriptor_pool

other = descriptor_pb2.FileDescriptorProto(
    name="opentelemetry/proto/common/v1/common.proto",
    package="opentelemetry.proto.common.v1",
    syntax="proto3",
)
other.message_type.add(name="KeyValue").field.add(name="key", number=7, type=9, label=1)
descriptor_pool.Default().AddSerializedFile(other.SerializeToString())

from junjo.otlp_proto.trace_service_pb2 import ExportTraceServiceRequest

request = ExportTraceServiceRequest()
request.resource_spans.add().resource.attributes.add(key="service.name").value.string_value = "a"
parsed = ExportTraceServiceRequest.FromString(request.SerializeToString())
assert parsed.resource_spans[0].resource.attributes[0].key == "service.name"
try:
    import opentelemetry.proto.common.v1.common_pb2
except TypeError as exc:  # what junjo's modules would hit, were they in the default pool
    print("default-pool module refused:", exc)
"""


def test_another_otlp_release_in_the_default_pool_does_not_matter():
    result = run_python("-c", OTHER_RELEASE_FIRST)
    assert result.returncode == 0, result.stderr
    # The premise: protobuf refuses a second, different file of the same name in one pool.
    assert "default-pool module refused: Couldn't build proto file" in result.stdout


def test_the_grpc_paths_the_server_answers_are_the_vendored_services():
    services = {
        grpc_server.TRACE_SERVICE: (trace_service_pb2, "TraceService"),
        grpc_server.METRICS_SERVICE: (metrics_service_pb2, "MetricsService"),
        grpc_server.LOGS_SERVICE: (logs_service_pb2, "LogsService"),
    }
    for full_name, (module, name) in services.items():
        service = module.DESCRIPTOR.services_by_name[name]
        assert service.full_name == full_name
        assert list(service.methods_by_name) == ["Export"]


SERVER_MODULES = """
import sys
import junjo.features.ingest.runtime, junjo.features.spans.convert, junjo.server.app
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def test_the_server_imports_nothing_of_opentelemetry():
    result = run_python("-c", SERVER_MODULES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
