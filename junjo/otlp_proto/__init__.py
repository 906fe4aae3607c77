"""OTLP protobuf messages, generated from the ``.proto`` files in the repository's ``proto/``.

The ``*_pb2`` modules here are written by ``make proto`` (proto/generate.py); do not edit them.
They hold upstream's messages under upstream's full names (``opentelemetry.proto.trace.v1.Span``)
but register them in ``POOL``, a descriptor pool of their own, not in protobuf's default pool:
the OpenTelemetry SDK's ``opentelemetry-proto`` registers the same files there, at whatever OTLP
release it was built from, and can then be imported in the same process in either order.

Nothing here may be imported from protobuf's default pool by name (``symbol_database``,
``json_format`` ``Any`` resolution): look messages up in ``POOL``.
"""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
