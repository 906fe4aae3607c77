// The traces list: search and filters, sortable columns, cursor pages, live mode. Every
// filter, the sort, the page cursor and live mode are in the URL query, under the API's own
// parameter names (GET /api/v1/traces), so a URL is a saved search and back/forward work.
// Live mode polls with the answer's `as_of` (docs/web.md, "Traces list", says why polling).

import { html, useEffect, useMemo, useRef, useState } from "../lib/html.js";
import { api, useApi } from "../lib/api.js";
import { formatDuration, formatNumber, formatTime } from "../lib/format.js";
import { tracePath, workflowPath } from "../lib/links.js";
import { Link, setQuery } from "../lib/router.js";
import { Badge, ErrorMessage, PageTitle } from "../lib/ui.js";
import { VirtualList } from "../lib/virtual.js";

const FILTERS = ["service", "since", "until", "errors", "llm", "name", "attr", "min_duration"];
const PAGE_SIZES = [50, 100, 1000, 10000];
const DEFAULT_LIMIT = 100;
const ROW_HEIGHT = 34;
const POLL_MS = 2000;
const LIVE_MAX = 200; // more updated traces than this in one poll: reload the page instead
const RANGES = [
  { value: "", label: "Any time" },
  { value: "15m", label: "Last 15 minutes" },
  { value: "1h", label: "Last hour" },
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "custom", label: "Between…" },
];
// Columns: the sort key the API takes (null: not sortable), the header, numeric or not.
const COLUMNS = [
  { id: "root", label: "Root span" },
  { id: "service", label: "Service" },
  { id: "start", sort: "start", label: "Started" },
  { id: "duration", sort: "duration", label: "Duration", num: true },
  { id: "spans", sort: "spans", label: "Spans", num: true },
  { id: "errors", sort: "errors", label: "Errors", num: true },
  { id: "llm", sort: "llm", label: "LLM calls", num: true },
  { id: "tokens", sort: "tokens", label: "Tokens", num: true },
  { id: "status", label: "Status" },
];

function filtersOf(query) {
  const filters = {};
  for (const name of FILTERS) if (query.get(name)) filters[name] = query.get(name);
  return filters;
}

export default function Traces({ query }) {
  const filters = filtersOf(query);
  const sort = query.get("sort") || "start";
  const order = query.get("order") || "desc";
  const cursor = query.get("cursor") || "";
  const limit = query.get("limit") || String(DEFAULT_LIMIT);
  const live = query.get("live") === "1";
  const request = { ...filters, sort, order, limit, total: true, ...(cursor ? { cursor } : {}) };
  const key = JSON.stringify(request);
  const { data, error, loading, reload } = useApi("/api/v1/traces", request, key);
  const firstNewest = !cursor && sort === "start" && order === "desc";
  const view = useLive({ data, loading, live, request, key, reload, firstNewest });

  return html`<${PageTitle} title="Traces" />
    <${Filters} filters=${filters} live=${live} />
    ${error ? html`<${ErrorMessage} error=${error} />` : null}
    ${view && !error
      ? html`<${Summary} view=${view} live=${live} filtered=${Object.keys(filters).length > 0} />
          <${Table} traces=${view.traces} sort=${sort} order=${order} loading=${loading} />
          <${Pager} view=${view} cursor=${cursor} limit=${limit} />`
      : null}`;
}

/**
 * The page's rows: the last answer, plus in live mode what each poll brings. On the first
 * page of newest-first, new traces are merged in place (a trace that grew is replaced);
 * anywhere else an update reloads the page, whose cursor keeps it where it was.
 */
function useLive({ data, loading, live, request, key, reload, firstNewest }) {
  const [view, setView] = useState(null);
  const asOf = useRef(null);
  // While a page loads the rows on screen are the previous search's: no poll merges there.
  const busy = useRef(loading);
  busy.current = loading;
  useEffect(() => {
    if (!data) return;
    asOf.current = data.as_of;
    setView({ traces: data.traces, total: data.total, next: data.next_cursor, prev: data.prev_cursor, added: 0 });
  }, [data]);
  const ready = view !== null;
  useEffect(() => {
    if (!live || !ready) return undefined;
    let stopped = false;
    let timer = null;
    const poll = { ...request, limit: LIVE_MAX };
    delete poll.cursor; // what changed anywhere in the search, counted by the merge
    delete poll.total;
    async function tick() {
      if (!document.hidden && !busy.current && asOf.current !== null) {
        try {
          const found = await api("/api/v1/traces", { query: { ...poll, updated_after: asOf.current } });
          if (stopped) return;
          asOf.current = found.as_of;
          if (found.traces.length && (!firstNewest || found.next_cursor)) reload();
          else if (found.traces.length) setView((old) => merge(old, found.traces));
          else setView((old) => (old.problem ? { ...old, problem: null } : old));
        } catch (problem) {
          if (stopped) return;
          // The server restarting, for one: say so and keep trying.
          setView((old) => ({ ...old, problem }));
        }
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    }
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [live, ready, key]);
  return view;
}

function merge(view, updated) {
  const byId = new Map(view.traces.map((t) => [t.trace_id, t]));
  const last = view.traces[view.traces.length - 1];
  let added = 0;
  for (const trace of updated) {
    const known = byId.has(trace.trace_id);
    // A trace older than this page's last row belongs to a later page (spans of an old
    // trace arriving late): it is left for that page, so no trace shows on two.
    if (!known && view.next && last && newestFirst(trace, last) > 0) continue;
    if (!known) added += 1;
    byId.set(trace.trace_id, trace);
  }
  const traces = [...byId.values()].sort(newestFirst);
  const total = view.total === null || view.total === undefined ? view.total : view.total + added;
  return { ...view, traces, total, added: view.added + added, problem: null };
}

/** The API's order: start time, then trace id, both descending. */
function newestFirst(a, b) {
  return b.start_time_ns - a.start_time_ns || (a.trace_id < b.trace_id ? 1 : a.trace_id > b.trace_id ? -1 : 0);
}

// -- filters -------------------------------------------------------------------------------

/** Change filters: a new search starts on its first page. */
function refine(updates) {
  setQuery({ ...updates, cursor: null });
}

function Filters({ filters, live }) {
  const services = useApi("/api/v1/services");
  const names = (services.data || []).map((s) => s.service_name);
  if (filters.service && !names.includes(filters.service)) names.push(filters.service);
  const range = rangeOf(filters);
  return html`<form class="trace-filters" role="search" aria-label="Filter traces" onSubmit=${(event) => event.preventDefault()}>
    <div class="filter-row">
      <div class="filter">
        <label for="filter-service">Service</label>
        <select id="filter-service" value=${filters.service || ""} onChange=${(e) => refine({ service: e.currentTarget.value })}>
          <option value="">All services</option>
          ${names.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}
        </select>
      </div>
      <div class="filter">
        <label for="filter-time">Time</label>
        <select id="filter-time" value=${range} onChange=${(e) => pickRange(e.currentTarget.value)}>
          ${RANGES.map((r) => html`<option key=${r.value} value=${r.value}>${r.label}</option>`)}
        </select>
      </div>
      ${range === "custom" ? html`<${Between} since=${filters.since} until=${filters.until} />` : null}
      <label class="check">
        <input type="checkbox" checked=${!!filters.errors} onChange=${(e) => refine({ errors: e.currentTarget.checked ? 1 : null })} />
        Errors only
      </label>
      <label class="check">
        <input type="checkbox" checked=${!!filters.llm} onChange=${(e) => refine({ llm: e.currentTarget.checked ? 1 : null })} />
        LLM calls only
      </label>
      <label class="check live-toggle">
        <input type="checkbox" checked=${live} onChange=${(e) => setQuery({ live: e.currentTarget.checked ? 1 : null })} />
        Live
      </label>
    </div>
    <${TextFilters} filters=${filters} />
  </form>`;
}

function rangeOf(filters) {
  if (!filters.since && !filters.until) return "";
  if (!filters.until && RANGES.some((r) => r.value === filters.since)) return filters.since;
  return "custom";
}

function pickRange(value) {
  if (value === "custom") {
    // Start from the last hour, as absolute times the inputs can show.
    refine({ since: new Date(Date.now() - 3600e3).toISOString(), until: null });
  } else refine({ since: value || null, until: null });
}

/** The since/until of a custom range as two local date-time inputs. */
function Between({ since, until }) {
  return html`<div class="filter">
      <label for="filter-since">From</label>
      <input id="filter-since" type="datetime-local" step="1" value=${localInput(since)} onChange=${(e) => refine({ since: isoOf(e.currentTarget.value) })} />
    </div>
    <div class="filter">
      <label for="filter-until">To</label>
      <input id="filter-until" type="datetime-local" step="1" value=${localInput(until)} onChange=${(e) => refine({ until: isoOf(e.currentTarget.value) })} />
    </div>`;
}

function localInput(value) {
  if (!value) return "";
  const date = new Date(/^[0-9]+$/.test(value) ? Number(value) / 1e6 : value);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function isoOf(local) {
  const date = new Date(local);
  return local && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

const TEXT_FILTERS = [
  { name: "name", label: "Span name", placeholder: "any span of the trace" },
  { name: "attr", label: "Attribute", placeholder: "key=value" },
  { name: "min_duration", label: "Min duration", placeholder: "e.g. 500ms, 2s" },
];

/** Typed filters apply on Enter or Apply (not on each key: one history entry a search). */
function TextFilters({ filters }) {
  const [draft, setDraft] = useState(() => pick(filters));
  const applied = JSON.stringify(pick(filters));
  useEffect(() => setDraft(pick(filters)), [applied]); // back/forward, a link
  function apply(event) {
    event.preventDefault();
    refine(Object.fromEntries(TEXT_FILTERS.map(({ name }) => [name, draft[name].trim() || null])));
  }
  const any = FILTERS.some((name) => filters[name]);
  return html`<div class="filter-row" onKeyDown=${(event) => event.key === "Enter" && apply(event)}>
    ${TEXT_FILTERS.map(
      ({ name, label, placeholder }) => html`<div class="filter" key=${name}>
        <label for=${`filter-${name}`}>${label}</label>
        <input
          id=${`filter-${name}`}
          name=${name}
          value=${draft[name]}
          placeholder=${placeholder}
          onInput=${(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
        />
      </div>`,
    )}
    <button type="button" class="button primary" onClick=${apply}>Apply</button>
    ${any
      ? html`<button type="button" class="button ghost" onClick=${() => refine(Object.fromEntries(FILTERS.map((n) => [n, null])))}>Clear filters</button>`
      : null}
  </div>`;
}

function pick(filters) {
  return Object.fromEntries(TEXT_FILTERS.map(({ name }) => [name, filters[name] || ""]));
}

// -- the list ------------------------------------------------------------------------------

function Summary({ view, live, filtered }) {
  const shown = view.traces.length;
  const total = view.total;
  let text = total === null || total === undefined ? `${formatNumber(shown)} traces` : `${formatNumber(total)} ${total === 1 ? "trace" : "traces"}`;
  if (filtered) text += " match";
  return html`<div class="list-summary">
    <p class="muted" role="status">
      ${text}${live ? html` · <span class="live-dot" aria-hidden="true"></span> following new traces` : ""}${view.added ? ` · ${view.added} new` : ""}
    </p>
    ${view.problem ? html`<p class="muted">Live updates paused: ${view.problem.message}. Trying again…</p>` : null}
  </div>`;
}

function Table({ traces, sort, order, loading }) {
  if (!traces.length) return html`<p class="empty">No traces match these filters.</p>`;
  // Rows are virtual (lib/virtual.js): a 10,000-row page costs the DOM what 50 do. The box
  // is as tall as its rows, up to most of the window.
  const height = `min(${traces.length * ROW_HEIGHT + 2}px, calc(100vh - 18rem))`;
  return html`<div class="traces-table" role="table" aria-label="Traces" aria-rowcount=${traces.length + 1} aria-busy=${loading ? "true" : "false"}>
    <div role="rowgroup" class="traces-head">
      <div role="row" class="trace-row" aria-rowindex="1">
        ${COLUMNS.map((column) => html`<${Header} key=${column.id} column=${column} sort=${sort} order=${order} />`)}
      </div>
    </div>
    <${VirtualList}
      items=${traces}
      rowHeight=${ROW_HEIGHT}
      height=${height}
      role="rowgroup"
      label="Trace rows"
      className="traces-body"
      renderRow=${(trace, index) => html`<${Row} trace=${trace} index=${index} />`}
    />
  </div>`;
}

function Header({ column, sort, order }) {
  const className = column.num ? "num" : "";
  if (!column.sort) return html`<div role="columnheader" class=${className}>${column.label}</div>`;
  const active = sort === column.sort;
  function onClick() {
    // A new column sorts largest (newest) first; the current one flips.
    const nextOrder = active ? (order === "desc" ? "asc" : "desc") : "desc";
    refine({ sort: column.sort === "start" ? null : column.sort, order: nextOrder === "desc" ? null : nextOrder });
  }
  const ariaSort = active ? (order === "desc" ? "descending" : "ascending") : "none";
  return html`<div role="columnheader" class=${className} aria-sort=${ariaSort}>
    <button type="button" class="sort-button" onClick=${onClick}>
      ${column.label}<span class="sort-mark" aria-hidden="true">${active ? (order === "desc" ? " ▼" : " ▲") : ""}</span>
    </button>
  </div>`;
}

function Row({ trace: t, index }) {
  return html`<div role="row" class="trace-row" aria-rowindex=${index + 2}>
    <div role="cell" class="root-cell">
      <${Link} href=${tracePath(t.service_name, t.trace_id)} title=${t.root_name}>${t.root_name}<//>
      ${t.junjo_span_type === "workflow" && t.root_is_complete
        ? html` <${Link} class="run-link" href=${workflowPath(t.service_name, t.trace_id, t.root_span_id)}
            title="Open this workflow run in the debugger" aria-label=${`Workflow run of ${t.root_name}`}>run<//>`
        : null}
    </div>
    <div role="cell" class="clip" title=${t.service_name}>${t.service_name}</div>
    <div role="cell" class="mono-num">${formatTime(t.start_time_ns)}</div>
    <div role="cell" class="num">${formatDuration(t.duration_ns)}</div>
    <div role="cell" class="num">${formatNumber(t.span_count)}</div>
    <div role="cell" class=${t.error_count ? "num error-count" : "num"}>${formatNumber(t.error_count)}</div>
    <div role="cell" class="num">${t.llm_call_count ? formatNumber(t.llm_call_count) : ""}</div>
    <div role="cell" class="num">${t.tokens?.total !== null && t.tokens?.total !== undefined ? formatNumber(t.tokens.total) : ""}</div>
    <div role="cell" class="status-cell"><${Status} trace=${t} /></div>
  </div>`;
}

function Status({ trace }) {
  const badges = [];
  if (trace.error_count) badges.push(html`<${Badge} key="e" tone="error">Error<//>`);
  if (!trace.root_is_complete) {
    badges.push(html`<${Badge} key="i" tone="warning" title="The root span has not arrived (yet)">Incomplete<//>`);
  }
  return badges.length ? badges : html`<${Badge} tone="ok">OK<//>`;
}

function Pager({ view, cursor, limit }) {
  const sizes = useMemo(() => (PAGE_SIZES.includes(Number(limit)) ? PAGE_SIZES : [...PAGE_SIZES, Number(limit)]), [limit]);
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" class="button" disabled=${!cursor} onClick=${() => setQuery({ cursor: null })}>First page</button>
    <button type="button" class="button" disabled=${!view.prev} onClick=${() => setQuery({ cursor: view.prev })}>Previous page</button>
    <button type="button" class="button" disabled=${!view.next} onClick=${() => setQuery({ cursor: view.next })}>Next page</button>
    <div class="filter page-size">
      <label for="page-size">Rows per page</label>
      <select id="page-size" value=${limit} onChange=${(e) => refine({ limit: e.currentTarget.value === String(DEFAULT_LIMIT) ? null : e.currentTarget.value })}>
        ${sizes.map((size) => html`<option key=${size} value=${String(size)}>${formatNumber(size)}</option>`)}
      </select>
    </div>
  </nav>`;
}
