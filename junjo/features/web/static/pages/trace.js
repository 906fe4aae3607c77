// The trace view: /traces/:service/:traceId/:spanId? (the junjo SDK prints these links).
// The span tree with its waterfall on the left, the selected span on the right. What is
// selected and searched lives in the URL (the span in the path, the search in ?q=): keyboard
// moves replace the history entry, clicks push one. The trace loads as an outline (ids,
// names, timing, flags); a span's attributes are loaded when it is selected, and search
// runs on the server, which holds the attribute values (docs/web.md, "Trace view").

import { html, useEffect, useMemo, useRef, useState } from "../lib/html.js";
import { api, useApi } from "../lib/api.js";
import { formatDuration, formatNumber, formatTime, formatUsd } from "../lib/format.js";
import { tracePath, tracesPath } from "../lib/links.js";
import { Link, navigate, setQuery } from "../lib/router.js";
import { Badge, CopyButton, ErrorMessage, Loading, PageTitle } from "../lib/ui.js";
import { SpanDetail } from "./trace/detail.js";
import { ancestors, buildModel, enclosingRun, nextError, parents, visibleRows } from "./trace/model.js";
import { ROW_HEIGHT, SpanTree, TimeAxis } from "./trace/tree.js";

const TREE_MAX_HEIGHT = "calc(100vh - 290px)";

/** As tall as its rows, up to the window's height. */
function treeHeight(rowCount) {
  return `min(${rowCount * ROW_HEIGHT + 2}px, ${TREE_MAX_HEIGHT})`;
}

export default function TracePage({ params, query }) {
  const traceId = params.traceId;
  const service = params.service || "-";
  const base = `/api/v1/traces/${encodeURIComponent(traceId)}`;
  const outline = useApi(`${base}/outline`);
  // While another trace loads, the previous one's outline is still at hand: not shown.
  const current = outline.data?.summary?.trace_id === traceId ? outline.data : null;
  const model = useMemo(() => (current ? buildModel(current) : null), [current]);
  if (outline.error) {
    return html`<${PageTitle} title="Trace" />
      <${ErrorMessage} error=${outline.error.status === 404 ? `Trace ${traceId} is not stored on this server.` : outline.error} />
      <p><${Link} href=${tracesPath()}>All traces<//></p>`;
  }
  if (!model) return html`<${PageTitle} title="Trace" /><${Loading} what="Loading the trace" />`;
  return html`<${TraceView} key=${traceId} model=${model} summary=${current.summary} base=${base} reload=${outline.reload}
    traceId=${traceId} service=${service} spanId=${params.spanId} q=${query.get("q") || ""} />`;
}

function TraceView({ model, summary, base, traceId, service, spanId, q, reload }) {
  const [collapsed, setCollapsed] = useState(() => new Set());
  useEffect(() => setCollapsed(new Set()), [model]); // a reload renumbers the spans
  const [text, setText] = useState(q);
  const matches = useMatches(base, q, model);
  const known = spanId ? model.byId.get(spanId) : undefined;
  const selected = known ?? model.order[0] ?? -1;
  const selectedSpan = model.nodes[selected]?.span;

  useEffect(() => {
    // A deep link (or an error jump) into a collapsed subtree opens it.
    if (selected < 0) return;
    const closed = ancestors(model, selected).filter((index) => collapsed.has(index));
    if (closed.length) setCollapsed((previous) => new Set([...previous].filter((i) => !closed.includes(i))));
  }, [selected]);

  const rows = useMemo(() => visibleRows(model, collapsed, matches), [model, collapsed, matches]);
  const rowOf = useMemo(() => new Map(rows.map((index, at) => [index, at])), [rows]);
  const selectedRow = rowOf.get(selected) ?? -1;

  useEffect(() => {
    // Collapsing hid the selected span: its nearest shown ancestor takes the selection.
    if (matches || selected < 0 || rowOf.has(selected)) return;
    const shown = ancestors(model, selected).find((index) => rowOf.has(index));
    if (shown !== undefined) select(shown);
  }, [rows]);

  function select(index, { push = false } = {}) {
    const span = model.nodes[index]?.span;
    if (span) navigate(tracePath(service, traceId, span.id) + window.location.search, { replace: !push });
  }
  function toggle(index) {
    setCollapsed((previous) => {
      const next = new Set(previous);
      if (next.has(index)) next.delete(index);
      else next.add(index);
      return next;
    });
  }
  function jumpToError(step) {
    const target = nextError(model, selected, step);
    if (target >= 0) select(target);
  }
  function onSearch(value) {
    setText(value);
    setQuery({ q: value.trim() }, { replace: true });
  }

  // Keys: j/k and n/p anywhere but in a text field; arrows, Home and End in the tree.
  const keys = useRef(null);
  keys.current = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement && (target.closest("input, textarea, select") || target.isContentEditable);
    const inTree = target instanceof HTMLElement && Boolean(target.closest(".trace-tree"));
    if (typing) return;
    const at = selectedRow;
    const node = model.nodes[selected];
    let next = -1;
    switch (event.key) {
      case "j":
        next = rows[Math.min(rows.length - 1, at + 1)];
        break;
      case "k":
        next = rows[Math.max(0, at - 1)];
        break;
      case "n":
        jumpToError(1);
        break;
      case "p":
        jumpToError(-1);
        break;
      case "/":
        document.getElementById("trace-search")?.focus();
        break;
      default:
        if (!inTree) return;
        if (event.key === "ArrowDown") next = rows[Math.min(rows.length - 1, at + 1)];
        else if (event.key === "ArrowUp") next = rows[Math.max(0, at - 1)];
        else if (event.key === "Home") next = rows[0];
        else if (event.key === "End") next = rows[rows.length - 1];
        else if (event.key === "ArrowRight" && node?.children.length) {
          if (collapsed.has(selected) && !matches) toggle(selected);
          else next = rows[at + 1];
        } else if (event.key === "ArrowLeft" && node) {
          if (node.children.length && !collapsed.has(selected) && !matches) toggle(selected);
          else if (node.parent >= 0) next = node.parent;
        } else if (!["ArrowRight", "ArrowLeft"].includes(event.key)) return;
    }
    event.preventDefault();
    if (next !== undefined && next >= 0 && next !== selected) select(next);
  };
  useEffect(() => {
    const listener = (event) => keys.current(event);
    document.addEventListener("keydown", listener);
    return () => document.removeEventListener("keydown", listener);
  }, []);

  const errorCount = model.errors.length;
  return html`<div class="trace-view" data-ready="true">
    <${TraceHeader} summary=${summary} model=${model} base=${base} traceId=${traceId} reload=${reload} />
    ${spanId && known === undefined
      ? html`<p class="error-message" role="status">Span ${spanId} is not in this trace; showing its first span.</p>`
      : null}
    <div class="trace-body">
      <div class="trace-left">
        <div class="trace-toolbar" role="toolbar" aria-label="Span tree">
          <label class="offscreen" for="trace-search">Search spans</label>
          <input id="trace-search" type="search" placeholder="Search names and attributes ( / )" value=${text}
            onInput=${(event) => onSearch(event.currentTarget.value)}
            onKeyDown=${(event) => event.key === "Escape" && onSearch("")} />
          ${q ? html`<span class="muted" role="status">${matches ? `${formatNumber(matches.size)} matching` : "Searching…"}</span>` : null}
          <button type="button" class="button small" onClick=${() => setCollapsed(new Set())}>Expand all</button>
          <button type="button" class="button small" onClick=${() => setCollapsed(new Set(parents(model)))}>Collapse all</button>
          <button type="button" class="button small" disabled=${!errorCount} onClick=${() => jumpToError(-1)}
            aria-keyshortcuts="p">Previous error</button>
          <button type="button" class="button small" disabled=${!errorCount} onClick=${() => jumpToError(1)}
            aria-keyshortcuts="n">Next error</button>
          <span class="muted">${formatNumber(errorCount)} ${errorCount === 1 ? "error" : "errors"}</span>
        </div>
        <${TimeAxis} total=${model.total} />
        ${rows.length
          ? html`<${SpanTree} model=${model} rows=${rows} selected=${selected} collapsed=${collapsed} matches=${matches}
              onSelect=${select} onToggle=${toggle} scrollTo=${selectedRow} height=${treeHeight(rows.length)} />`
          : html`<p class="empty">No span matches “${q}”.</p>`}
        <p class="muted trace-keys">j / k or ↑ / ↓ move · ← / → collapse / expand · n / p next / previous error · / search</p>
      </div>
      <section class="trace-right" tabindex="0" aria-label="Selected span">
        <${SpanDetail} traceId=${traceId} spanId=${selectedSpan?.id} run=${selected >= 0 ? enclosingRun(model, selected) : null} />
      </section>
    </div>
  </div>`;
}

/** The matching spans of the server-side search as a Set of indexes; null without a search. */
function useMatches(base, q, model) {
  const [found, setFound] = useState(null); // {q, ids}
  useEffect(() => {
    if (!q) {
      setFound(null);
      return undefined;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api(`${base}/matches`, { query: { q }, signal: abort.signal }).then(
        (answer) => setFound({ q, ids: answer.span_ids || [] }),
        (error) => {
          if (error.name !== "AbortError") setFound({ q, ids: [] });
        },
      );
    }, 150);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [base, q]);
  return useMemo(() => {
    // While a changed search runs, the previous one's matches stay (no flash of the whole tree).
    if (!q || !found) return null;
    return new Set(found.ids.map((id) => model.byId.get(id)).filter((index) => index !== undefined));
  }, [found, q, model]);
}

function TraceHeader({ summary, model, base, traceId, reload }) {
  const tokens = summary.tokens?.total;
  const title = summary.root_name || model.nodes[model.order[0]]?.span.name || "Trace";
  return html`<${PageTitle} title=${title}>
      <button type="button" class="button" onClick=${reload} title="Spans that arrived since are added">Reload</button>
      <${CopyButton} label="Copy as OTLP-JSON" text=${async () => JSON.stringify(await api(`${base}/otlp`))} />
      <a class="button" href=${`${base}/otlp?download=1`} download=${`trace-${traceId}.otlp.json`}>Download OTLP-JSON</a>
    <//>
    <dl class="trace-summary">
      <div><dt>Service</dt><dd>${summary.service_name
        ? html`<${Link} href=${tracesPath({ service: summary.service_name })} title="Its traces">${summary.service_name}<//>`
        : "–"}</dd></div>
      <div><dt>Trace id</dt><dd class="mono">${traceId}</dd></div>
      <div><dt>Started</dt><dd>${formatTime(summary.start_time_ns)}</dd></div>
      <div><dt>Duration</dt><dd>${formatDuration(summary.duration_ns)}</dd></div>
      <div><dt>Spans</dt><dd>${formatNumber(model.nodes.length)}</dd></div>
      <div><dt>Status</dt><dd>${summary.error_count
        ? html`<${Badge} tone="error">${formatNumber(summary.error_count)} failed<//>`
        : html`<${Badge} tone="ok">OK<//>`}</dd></div>
      ${summary.llm_call_count ? html`<div><dt>LLM calls</dt><dd>${formatNumber(summary.llm_call_count)}${tokens != null ? ` · ${formatNumber(tokens)} tokens` : ""}</dd></div>` : null}
      ${summary.llm_call_count ? html`<div><dt>Cost</dt><dd title=${costNote(summary.cost)}>${formatUsd(summary.cost?.usd)}</dd></div>` : null}
      ${summary.root_is_complete === false ? html`<div><dt>Root</dt><dd><${Badge} tone="warning">root span missing<//></dd></div>` : null}
    </dl>`;
}

/** What a trace's cost covers: LiteLLM's price map does not know every model. */
function costNote(cost) {
  if (!cost) return undefined;
  const unpriced = cost.unpriced_spans ? `; ${formatNumber(cost.unpriced_spans)} of unknown price` : "";
  return `${formatNumber(cost.priced_spans)} LLM calls priced from LiteLLM's price map${unpriced}`;
}
