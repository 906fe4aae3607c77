// Ready-to-paste snippets that point an app at this server, from GET /api/config (which
// derives the endpoints from `public_url` or the request). One place writes them: the API
// keys page (after creating a key) and the home page's empty state both use these.

import { api } from "./api.js";
import { useEffect, useState } from "./html.js";

const KEY_PLACEHOLDER = "<your API key>";

/** {grpc: "host:port", grpcUrl: "http://host:port", http: "http://host/v1/traces", tls} or
 * null; tls: the gRPC port speaks TLS (the server has tls_cert; /api/config says https://). */
export function useEndpoints() {
  const [endpoints, setEndpoints] = useState(null);
  useEffect(() => {
    api("/api/config").then((config) => setEndpoints(endpointsFrom(config)), () => setEndpoints(null));
  }, []);
  return endpoints;
}

export function endpointsFrom(config) {
  const endpoint = String(config.otlp_endpoint || "");
  const tls = endpoint.startsWith("https://");
  const grpc = endpoint.replace(/^(grpc|https):\/\//, "");
  return { grpc, grpcUrl: `${tls ? "https" : "http"}://${grpc}`, http: config.otlp_http_endpoint, tls };
}

/** [{id, title, language, code}] for a key (or a placeholder when it is not known). */
export function connectionSnippets(endpoints, key = KEY_PLACEHOLDER) {
  return [
    {
      id: "junjo",
      title: "A junjo app (JunjoOtelExporter)",
      language: "python",
      code: `from junjo.telemetry.junjo_otel_exporter import JunjoOtelExporter
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

# junjo 0.67 and newer; older releases take host="..." and port="..." instead of endpoint.
exporter = JunjoOtelExporter(
    endpoint="${endpoints.grpc}",
    api_key="${key}",
    insecure=${endpoints.tls ? "False" : "True"},
)
provider = TracerProvider(resource=Resource.create({"service.name": "my-app"}))
provider.add_span_processor(exporter.span_processor)
trace.set_tracer_provider(provider)`,
    },
    {
      id: "otel-grpc",
      title: "Any OpenTelemetry app, OTLP/gRPC",
      language: "shell",
      code: `export OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc
export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="${endpoints.grpcUrl}"
export OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-junjo-api-key=${key}"
export OTEL_SERVICE_NAME=my-app`,
    },
    {
      id: "otel-http",
      title: "Any OpenTelemetry app, OTLP/HTTP (protobuf or JSON)",
      language: "shell",
      code: `export OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf
export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="${endpoints.http}"
export OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-junjo-api-key=${key}"
export OTEL_SERVICE_NAME=my-app`,
    },
  ];
}
