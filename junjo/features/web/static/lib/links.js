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

/** A workflow run in the debugger: `/workflows/{service}/{trace_id}/{workflow_span_id}[/{span_id}]`
 * (the old Studio's path), with an optional query (`change`, `tab`, `paths`). */
export function workflowPath(service, traceId, workflowSpanId, spanId, query = {}) {
  const parts = ["workflows", service || "-", traceId, workflowSpanId];
  if (spanId) parts.push(spanId);
  return withQuery(`/${parts.map(encodeURIComponent).join("/")}`, query);
}

/** The runs of one workflow (service and workflow name). */
export function runsPath(service, name) {
  return withQuery("/runs", { service, name });
}

/** Two runs side by side; `a`/`b` are {trace_id, span_id}; `aIndex`/`bIndex` pick a step. */
export function comparePath(a, b, { aIndex, bIndex } = {}) {
  return withQuery("/compare", {
    a: `${a.trace_id}.${a.span_id}`,
    b: `${b.trace_id}.${b.span_id}`,
    a_index: aIndex,
    b_index: bIndex,
  });
}
