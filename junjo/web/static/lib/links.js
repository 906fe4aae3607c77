// The UI's own URLs, written once. The trace path is Junjo AI Studio's deep link (the junjo
// SDK prints it), so a link from a terminal opens the same page.

import { withQuery } from "./router.js";

/** `/traces/{service}/{trace_id}[/{span_id}]`, each segment URL-encoded. */
export function tracePath(service, traceId, spanId) {
  const parts = ["traces", service || "-", traceId];
  if (spanId) parts.push(spanId);
  return `/${parts.map(encodeURIComponent).join("/")}`;
}

/** The traces list with some filters set (see pages/traces.js for the names). */
export function tracesPath(filters = {}) {
  return withQuery("/traces", filters);
}

/** The prompt playground of an LLM span (pages/playground.js): the trace view's
 * "Open in playground". */
export function playgroundPath(service, traceId, spanId) {
  return withQuery("/playground", { trace: traceId, span: spanId, service });
}
