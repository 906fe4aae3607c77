// The selected span, whole: loaded on selection (GET /api/v1/traces/{id}/spans/{span_id}),
// so the trace itself needs only its outline. Status, kind, times, the LLM conversation,
// exceptions with their stack traces, attributes (searchable), events, links, resource and
// scope. Data is untrusted text: htm renders it as text.

import { html, useState } from "../../lib/html.js";
import { useApi } from "../../lib/api.js";
import { formatDuration, formatTime } from "../../lib/format.js";
import { tracePath, workflowPath } from "../../lib/links.js";
import { Link } from "../../lib/router.js";
import { Badge, ErrorMessage, Loading } from "../../lib/ui.js";
import { Conversation } from "./conversation.js";
import { LongText, Value } from "./values.js";

const STATUS = { 0: ["info", "Unset"], 1: ["ok", "OK"], 2: ["error", "Error"] };

export function SpanDetail({ traceId, spanId, run }) {
  const path = spanId ? `/api/v1/traces/${encodeURIComponent(traceId)}/spans/${encodeURIComponent(spanId)}` : null;
  const { data: span, error, loading } = useApi(path);
  if (!spanId) return html`<p class="muted">Select a span.</p>`;
  if (error) return html`<${ErrorMessage} error=${error} />`;
  if (!span) return html`<${Loading} what="Loading the span" />`;
  // While the next span loads, the last one stays (dimmed): moving through the tree with the
  // keyboard does not make the panel jump.
  const stale = loading || span.span_id !== spanId;
  return html`<div class=${stale ? "span-stale" : ""} aria-busy=${stale ? "true" : undefined}>
    <${SpanView} key=${span.span_id} span=${span} run=${run} />
  </div>`;
}

/** To the workflow debugger: the run this span is (or is part of), with the span selected.
 * An agent run with an application store is a run of its own. */
function RunLink({ span, run }) {
  const ownRun = span.junjo_span_type === "agent" && span.attributes_json?.["junjo.agent.application_store.id"];
  const runId = ownRun ? span.span_id : run?.id;
  if (!runId) return null;
  const selected = runId === span.span_id ? undefined : span.span_id;
  const label = runId === span.span_id ? "Open workflow run" : `In run “${run.name}”`;
  return html`<${Link} class="button" href=${workflowPath(span.service_name, span.trace_id, runId, selected)}>${label}<//>`;
}

function SpanView({ span, run }) {
  const [tone, statusLabel] = STATUS[span.status_code] || STATUS[0];
  const events = Array.isArray(span.events_json) ? span.events_json : [];
  const exceptions = events.filter((event) => event?.name === "exception");
  const others = events.filter((event) => event?.name !== "exception");
  const links = Array.isArray(span.links_json) ? span.links_json : [];
  return html`<article class="span-detail" aria-labelledby="span-title">
    <div class="span-head">
      <h2 id="span-title" class="span-title">${span.name || "(no name)"}</h2>
      <${RunLink} span=${span} run=${run} />
    </div>
    <dl class="trace-facts">
      <div><dt>Status</dt><dd><${Badge} tone=${tone}>${statusLabel}<//>${span.status_message ? html` <span class="status-message">${span.status_message}</span>` : null}</dd></div>
      <div><dt>Kind</dt><dd>${span.kind}</dd></div>
      <div><dt>Duration</dt><dd>${formatDuration(span.duration_ns)}</dd></div>
      <div><dt>Start</dt><dd>${formatTime(span.start_time_ns)}</dd></div>
      <div><dt>Service</dt><dd>${span.service_name || "–"}</dd></div>
      ${span.junjo_span_type ? html`<div><dt>Junjo type</dt><dd>${span.junjo_span_type}</dd></div>` : null}
      <div><dt>Span id</dt><dd class="mono">${span.span_id}</dd></div>
      <div><dt>Parent</dt><dd class="mono">${span.parent_span_id || "none (root)"}</dd></div>
    </dl>
    ${span.llm ? html`<${Conversation} llm=${span.llm} span=${span} />` : null}
    ${exceptions.length ? html`<${Exceptions} exceptions=${exceptions} />` : null}
    <${Attributes} title="Attributes" id="attributes" attributes=${span.attributes_json} searchable=${true}
      dropped=${span.dropped_attributes_count} />
    ${others.length ? html`<${Events} events=${others} start=${span.start_time_ns} dropped=${span.dropped_events_count} />` : null}
    ${links.length ? html`<${Links} links=${links} />` : null}
    <${Attributes} title="Resource" id="resource" attributes=${span.resource_attributes_json}
      dropped=${span.resource_dropped_attributes_count} />
    <section class="trace-section" aria-labelledby="scope-title">
      <h3 id="scope-title">Scope</h3>
      <dl class="trace-facts">
        <div><dt>Name</dt><dd>${span.scope_name || "–"}</dd></div>
        <div><dt>Version</dt><dd>${span.scope_version || "–"}</dd></div>
      </dl>
      ${Object.keys(span.scope_attributes_json || {}).length
        ? html`<${AttributeTable} attributes=${span.scope_attributes_json} label="Scope attributes" />`
        : null}
    </section>
  </article>`;
}

function Exceptions({ exceptions }) {
  return html`<section class="trace-section" aria-labelledby="exceptions-title">
    <h3 id="exceptions-title">Exceptions</h3>
    ${exceptions.map((event, i) => {
      const attrs = event.attributes || {};
      return html`<div class="exception" key=${i}>
        <p><strong class="exception-type">${String(attrs["exception.type"] ?? "Exception")}</strong>:
          ${" "}<span class="exception-message">${String(attrs["exception.message"] ?? "")}</span></p>
        ${attrs["exception.stacktrace"]
          ? html`<pre class="block stacktrace"><${LongText} text=${String(attrs["exception.stacktrace"])} limit=${8000} /></pre>`
          : null}
      </div>`;
    })}
  </section>`;
}

function Attributes({ title, id, attributes, searchable = false, dropped = 0 }) {
  const [filter, setFilter] = useState("");
  const entries = Object.keys(attributes || {});
  return html`<section class="trace-section" aria-labelledby=${`${id}-title`}>
    <h3 id=${`${id}-title`}>${title} <span class="muted">(${entries.length})</span></h3>
    ${searchable && entries.length > 0
      ? html`<div class="attr-filter">
          <label for=${`${id}-filter`}>Filter ${title.toLowerCase()}</label>
          <input id=${`${id}-filter`} type="search" value=${filter} placeholder="key or value"
            onInput=${(event) => setFilter(event.currentTarget.value)} />
        </div>`
      : null}
    ${entries.length
      ? html`<${AttributeTable} attributes=${attributes} filter=${filter} label=${title} />`
      : html`<p class="muted">None.</p>`}
    ${dropped ? html`<p class="muted">${dropped} dropped by the sender.</p>` : null}
  </section>`;
}

function matches(key, value, needle) {
  if (!needle) return true;
  if (key.toLowerCase().includes(needle)) return true;
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
  return text.toLowerCase().includes(needle);
}

function AttributeTable({ attributes, filter = "", label }) {
  const needle = filter.trim().toLowerCase();
  const keys = Object.keys(attributes || {}).sort();
  const shown = keys.filter((key) => matches(key, attributes[key], needle));
  if (!shown.length) return html`<p class="muted">No attribute matches “${filter}”.</p>`;
  return html`<table class="data attrs" aria-label=${label}>
    <tbody>
      ${shown.map((key) => html`<tr key=${key}><th scope="row" class="mono">${key}</th><td><${Value} value=${attributes[key]} /></td></tr>`)}
    </tbody>
  </table>`;
}

function Events({ events, start, dropped }) {
  return html`<section class="trace-section" aria-labelledby="events-title">
    <h3 id="events-title">Events <span class="muted">(${events.length})</span></h3>
    <ol class="events">
      ${events.map((event, i) => {
        const offset = Number(event?.timeUnixNano) - Number(start);
        return html`<li key=${i}>
          <p><strong>${String(event?.name ?? "(no name)")}</strong>
            <span class="muted"> at +${formatDuration(Math.max(0, offset))}</span></p>
          ${Object.keys(event?.attributes || {}).length
            ? html`<${AttributeTable} attributes=${event.attributes} label=${`Event ${i + 1} attributes`} />`
            : null}
        </li>`;
      })}
    </ol>
    ${dropped ? html`<p class="muted">${dropped} events dropped by the sender.</p>` : null}
  </section>`;
}

function Links({ links }) {
  return html`<section class="trace-section" aria-labelledby="links-title">
    <h3 id="links-title">Links <span class="muted">(${links.length})</span></h3>
    <ul class="links">
      ${links.map((link, i) => html`<li key=${i}>
        <${Link} href=${tracePath("-", String(link.traceId || ""), String(link.spanId || ""))} class="mono">
          ${String(link.traceId || "?")} / ${String(link.spanId || "?")}
        <//>
        ${Object.keys(link.attributes || {}).length
          ? html`<${AttributeTable} attributes=${link.attributes} label=${`Link ${i + 1} attributes`} />`
          : null}
      </li>`)}
    </ul>
  </section>`;
}
