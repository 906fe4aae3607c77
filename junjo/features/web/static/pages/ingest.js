// Ingest status: what the server accepted (in the write-ahead log), what the indexer has
// made searchable, what waits, and what it set aside. Refreshed every few seconds while the
// tab is visible; a hidden tab asks nothing.

import { api } from "../lib/api.js";
import { formatAgo, formatBytes, formatCount, formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { html, useEffect, useState } from "../lib/html.js";
import { Badge, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";

const REFRESH_MS = 3000;

/** GET /api/v1/ingest/status now and every `intervalMs` while the document is visible. */
function useIngestStatus(intervalMs) {
  const [state, setState] = useState({ data: undefined, error: null, at: null });
  useEffect(() => {
    let timer = null;
    let controller = null;
    let stopped = false;
    async function load() {
      clearTimeout(timer);
      controller?.abort();
      if (stopped || document.hidden) return;
      controller = new AbortController();
      try {
        const data = await api("/api/v1/ingest/status", { signal: controller.signal });
        setState({ data, error: null, at: Date.now() });
      } catch (error) {
        if (error.name === "AbortError") return;
        setState((previous) => ({ ...previous, error }));
      }
      if (!stopped && !document.hidden) timer = setTimeout(load, intervalMs);
    }
    function onVisibility() {
      if (document.hidden) {
        clearTimeout(timer);
        controller?.abort();
      } else load(); // back in view: fresh numbers at once
    }
    document.addEventListener("visibilitychange", onVisibility);
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [intervalMs]);
  return state;
}

export default function Ingest() {
  const { data, error, at } = useIngestStatus(REFRESH_MS);
  return html`<section class="ingest-page">
    <${PageTitle} title="Ingest">
      ${at ? html`<span class="muted" data-testid="updated">Updated ${formatTime(at * 1e6).slice(11, 19)}, every ${REFRESH_MS / 1000} s</span>` : null}
    <//>
    <${ErrorMessage} error=${error} />
    ${data === undefined ? (error ? null : html`<${Loading} />`) : html`<${Status} status=${data} />`}
  </section>`;
}

function Status({ status }) {
  const lag = Number(status.indexer_lag_seconds) || 0;
  const quarantine = status.quarantine || { pending_entries: 0, pending_spans: 0, entries: [] };
  const refused = Object.entries(status.refused_batches || {}).filter(([, count]) => count > 0);
  const masked = status.masked || { rules: 0, spans: 0, values: 0, timed_out_values: 0 };
  return html`
    <div class="stats">
      <${Stat} id="accepted" title="Accepted" value=${status.accepted.spans} unit=${unit(status.accepted.spans, "span")}>
        in ${formatCount(status.accepted.batches, "batch", "batches")}, durably in the write-ahead log
      <//>
      <${Stat} id="indexed" title="Indexed" value=${status.indexed.spans} unit=${unit(status.indexed.spans, "span")}>
        searchable; ${formatCount(status.indexed.duplicate_spans, "duplicate")} skipped; last ${formatAgo(status.indexed.last_indexed_at_ns)}
      <//>
      <${Stat} id="backlog" title="Backlog" value=${status.backlog.batches} unit=${unit(status.backlog.batches, "batch", "batches")} tone=${status.backlog.batches ? "warning" : null}>
        ${formatBytes(status.backlog.bytes)} waiting to be indexed
      <//>
      <${Stat} id="lag" title="Indexer lag" text=${lag > 0 ? formatDuration(lag * 1e9) : "none"}>
        age of the oldest batch not yet indexed
      <//>
      <${Stat} id="quarantined" title="Quarantined" value=${quarantine.pending_spans} unit=${unit(quarantine.pending_spans, "span")} tone=${quarantine.pending_entries ? "error" : null}>
        in ${formatCount(quarantine.pending_entries, "entry", "entries")} set aside and not replayed; ${formatNumber(status.quarantined.spans)} in all since the store was created
      <//>
      <${Masked} masked=${masked} />
    </div>
    <p class="indexer-state">
      Indexer: ${status.indexer_running ? html`<${Badge} tone="ok">running<//>` : html`<${Badge} tone="error">stopped<//>`}
      ${status.shutting_down ? html` <${Badge} tone="warning">shutting down<//>` : null}
      ${status.indexer_error ? html` <span class="error-text">Last error: ${status.indexer_error}</span>` : null}
    </p>
    <h2>Since this server started</h2>
    <ul class="plain">
      <li>Spans rejected (bad ids or times): ${formatNumber(status.rejected_spans)}</li>
      <li>Values cut to size: ${formatNumber(status.truncated_values)}</li>
      <li>
        Batches refused (clients retry them):
        ${refused.length ? refused.map(([reason, count]) => html` <${Badge} tone="warning" key=${reason}>${reason.replace(/_/g, " ")}: ${formatNumber(count)}<//>`) : " none"}
      </li>
    </ul>
    ${quarantine.entries?.length ? html`<${QuarantineTable} entries=${quarantine.entries} />` : null}
  `;
}

/** Spans the masking rules changed since start, or that there are no rules (junjo.toml). */
function Masked({ masked }) {
  if (!masked.rules) {
    return html`<${Stat} id="masked" title="Masked" text="off">
      no masking rules (<code>[[masking.rules]]</code> in junjo.toml)
    <//>`;
  }
  return html`<${Stat} id="masked" title="Masked" value=${masked.spans} unit=${unit(masked.spans, "span")}>
    ${formatCount(masked.values, "value")} replaced before storing, by ${formatCount(masked.rules, "rule")}, since this server started${masked.timed_out_values ? html`; <span class="error-text">${formatCount(masked.timed_out_values, "value")} masked whole: a pattern ran out of time</span>` : null}
  <//>`;
}

/** The word after a figure: formatCount's, without the number (shown larger). */
function unit(count, one, many) {
  return formatCount(count, one, many).replace(/^\S+ /, "");
}

/** One figure: a number with its unit (or a text), and a line saying what it means. */
function Stat({ id, title, value, unit, text, tone, children }) {
  return html`<section class=${`card stat${tone ? ` stat-${tone}` : ""}`} aria-labelledby=${`stat-${id}`} data-testid=${`stat-${id}`}>
    <h2 id=${`stat-${id}`}>${title}</h2>
    <p class="stat-value">${text ?? formatNumber(value)}${unit ? html` <span class="stat-unit">${unit}</span>` : null}</p>
    <p class="muted stat-note">${children}</p>
  </section>`;
}

function QuarantineTable({ entries }) {
  return html`<h2>Newest quarantine entries</h2>
    <p class="muted">The indexer could not store these. <code>junjo quarantine replay</code> tries them again once the cause is fixed.</p>
    <table class="data">
      <thead><tr><th scope="col" class="num">Entry</th><th scope="col" class="num">Spans</th><th scope="col">Error</th><th scope="col">Set aside</th></tr></thead>
      <tbody>
        ${entries.map((entry) => html`<tr key=${entry.id}>
          <td class="num">${entry.id}</td>
          <td class="num">${formatNumber(entry.span_count)}</td>
          <td>${entry.error}</td>
          <td title=${formatTime(entry.quarantined_at_ns)}>${formatAgo(entry.quarantined_at_ns)}</td>
        </tr>`)}
      </tbody>
    </table>`;
}
