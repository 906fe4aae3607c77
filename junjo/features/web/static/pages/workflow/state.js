// State time travel: the run's timeline of store changes (all stores, the server's order),
// stepped with buttons, arrow keys, a scrubber or play; the selected change's Before / After /
// Patch / Changes from the server's replay (GET .../change?index=), never replayed here.

import { html, useEffect, useMemo, useRef, useState } from "../../lib/html.js";
import { api } from "../../lib/api.js";
import { formatCount, formatDuration, formatNumber } from "../../lib/format.js";
import { ErrorMessage, Loading } from "../../lib/ui.js";
import { VirtualList } from "../../lib/virtual.js";

const TABS = [
  { id: "before", label: "Before" },
  { id: "after", label: "After" },
  { id: "patch", label: "Patch" },
  { id: "changes", label: "Changes" },
];
const LINE_HEIGHT = 20;
const ENTRY_HEIGHT = 30;
const PLAY_MS = 600;
const CACHED = 200;

/** One change (or a span's state) from the server, kept for the next visit. */
export function useServerState(base, request) {
  const cache = useRef(new Map());
  const [state, setState] = useState({ data: null, error: null, loading: false });
  const key = request ? JSON.stringify(request) : null;
  useEffect(() => {
    if (!key) {
      setState({ data: null, error: null, loading: false });
      return undefined;
    }
    if (cache.current.has(key)) {
      setState({ data: cache.current.get(key), error: null, loading: false });
      return undefined;
    }
    const abort = new AbortController();
    setState((previous) => ({ ...previous, loading: true, error: null }));
    const path = request.index !== undefined ? `${base}/change` : `${base}/state`;
    api(path, { query: request, signal: abort.signal }).then(
      (data) => {
        if (abort.signal.aborted) return;
        cache.current.set(key, data);
        if (cache.current.size > CACHED) cache.current.delete(cache.current.keys().next().value);
        setState({ data, error: null, loading: false });
      },
      (error) => {
        if (!abort.signal.aborted && error.name !== "AbortError") setState({ data: null, error, loading: false });
      },
    );
    return () => abort.abort();
  }, [base, key]);
  return state;
}

// -- JSON as lines, each with its JSON pointer ------------------------------------------------

function escapeToken(token) {
  return String(token).replace(/~/g, "~0").replace(/\//g, "~1");
}

function scalar(value) {
  return JSON.stringify(value);
}

/** [{path, depth, text}] of a JSON value as pretty-printed lines. */
export function jsonLines(value, limit = 50000) {
  const lines = [];
  const walk = (item, path, depth, prefix, comma) => {
    if (lines.length >= limit) return;
    if (item && typeof item === "object") {
      const isArray = Array.isArray(item);
      const keys = isArray ? item.map((_, i) => i) : Object.keys(item);
      const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
      if (!keys.length) {
        lines.push({ path, depth, text: `${prefix}${open}${close}${comma}` });
        return;
      }
      lines.push({ path, depth, text: `${prefix}${open}` });
      keys.forEach((key, i) => {
        const child = `${path}/${escapeToken(key)}`;
        const label = isArray ? "" : `${JSON.stringify(key)}: `;
        walk(item[key], child, depth + 1, label, i < keys.length - 1 ? "," : "");
      });
      lines.push({ path, depth, text: `${close}${comma}`, closing: true });
    } else {
      lines.push({ path, depth, text: `${prefix}${scalar(item)}${comma}` });
    }
  };
  walk(value, "", 0, "", "");
  return lines;
}

function isUnder(path, changed) {
  return path === changed || path.startsWith(`${changed}/`);
}

/** The changed paths a line shows: itself or inside a changed value. */
function marked(path, changed) {
  for (const item of changed) if (item !== "" && isUnder(path, item)) return true;
  return changed.includes("") && path === "";
}

function JsonView({ value, changed = [], filter = "", label }) {
  const lines = useMemo(() => jsonLines(value), [value]);
  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? lines.filter((line) => !line.closing && line.path.toLowerCase().includes(needle))
    : lines;
  if (value === undefined) return html`<p class="muted">Not known (see the verdict above).</p>`;
  if (!shown.length) return html`<p class="muted">No path matches “${filter}”.</p>`;
  const height = `min(${shown.length * LINE_HEIGHT + 4}px, 60vh)`;
  return html`<${VirtualList}
    items=${shown}
    rowHeight=${LINE_HEIGHT}
    height=${height}
    label=${label}
    className="wf-json"
    renderRow=${(line) => {
      const changedLine = marked(line.path, changed);
      const text = needle ? `${line.path || "/"}  ${line.text.replace(/,$/, "")}` : line.text;
      return html`<div
        class=${`wf-json-line${changedLine ? " wf-changed" : ""}`}
        role="listitem"
        data-path=${line.path}
        style=${{ paddingLeft: needle ? "0.4rem" : `${0.4 + line.depth * 1.1}rem` }}
      >${changedLine ? html`<span class="offscreen">changed: </span>` : null}${text}</div>`;
    }}
  />`;
}

function short(value) {
  if (value === undefined) return "—";
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

function ChangesTable({ changes, filter }) {
  const needle = filter.trim().toLowerCase();
  const shown = needle ? changes.filter((c) => c.path.toLowerCase().includes(needle)) : changes;
  if (!changes.length) return html`<p class="muted">This write changed nothing.</p>`;
  if (!shown.length) return html`<p class="muted">No changed path matches “${filter}”.</p>`;
  return html`<table class="data wf-changes">
    <thead><tr><th>Change</th><th>Path</th><th>Before</th><th>After</th></tr></thead>
    <tbody>
      ${shown.map(
        (change, i) => html`<tr key=${i} data-path=${change.path}>
          <td><span class=${`wf-kind wf-kind-${change.kind}`}>${change.kind}</span></td>
          <td class="mono">${change.path || "/"}</td>
          <td class="mono">${short(change.before)}</td>
          <td class="mono">${short(change.after)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

// -- the timeline -------------------------------------------------------------------------

/** "Store · Node · action"; a write by another run on a shared Store names that run. */
function entryLabel(entry) {
  const writer = entry.node_name || entry.span_name || "?";
  const who = entry.outside_run && entry.writer_run_name ? `${entry.writer_run_name} › ${writer}` : writer;
  return `${entry.store_name || "store"} · ${who} · ${entry.action || "set_state"}`;
}

function Timeline({ timeline, index, onSelect, startNs }) {
  return html`<${VirtualList}
    items=${timeline}
    rowHeight=${ENTRY_HEIGHT}
    height=${`min(${timeline.length * ENTRY_HEIGHT + 4}px, 16rem)`}
    label="State changes"
    scrollTo=${index ?? undefined}
    className="wf-timeline"
    renderRow=${(entry, i) => html`<div role="listitem" class="wf-li"><button
      type="button"
      class=${`wf-entry${i === index ? " selected" : ""}${entry.patch_error || !entry.state_reliable ? " wf-entry-doubtful" : ""}`}
      aria-current=${i === index ? "true" : undefined}
      data-index=${i}
      onClick=${() => onSelect(i)}
    >
      <span class="wf-entry-number">#${i + 1}</span>
      <span class="wf-entry-label">${entryLabel(entry)}</span>
      <span class="muted wf-entry-time">${entry.time_ns && startNs ? `+${formatDuration(entry.time_ns - startNs)}` : ""}</span>
    </button></div>`}
  />`;
}

/** Play: one step every PLAY_MS until the last change. */
function usePlay(index, count, onStep) {
  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    if (!playing) return undefined;
    if (index !== null && index >= count - 1) {
      setPlaying(false);
      return undefined;
    }
    const timer = setTimeout(() => onStep(index === null ? 0 : index + 1), PLAY_MS);
    return () => clearTimeout(timer);
  }, [playing, index, count]);
  return [playing, setPlaying];
}

function isTyping(target) {
  const tag = target?.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target?.isContentEditable;
}

/**
 * props: run (the /run answer), base (its API path), index (selected change or null),
 * spanId (selected span), tab, filter, onIndex(i), onTab(id), onFilter(text).
 */
export function StatePanel({ run, base, index, spanId, tab, filter, onIndex, onTab, onFilter }) {
  const timeline = run.timeline;
  const count = timeline.length;
  const request = index !== null ? { index } : { span: spanId || run.span.span_id };
  const { data, error, loading } = useServerState(base, request);
  const [playing, setPlaying] = usePlay(index, count, onIndex);
  const step = (to) => {
    if (!count) return;
    onIndex(Math.max(0, Math.min(count - 1, to)));
  };
  // The key handler reads the newest step through a ref: an effect that re-registered it on
  // every change would, for the moment between a render and its effect, still step from the
  // old index (a quick second key press then went nowhere).
  const latestStep = useRef(null);
  latestStep.current = (key) => {
    if (key === "ArrowRight") step(index === null ? 0 : index + 1);
    else if (key === "ArrowLeft") step(index === null ? 0 : index - 1);
    else if (key === "Home") step(0);
    else if (key === "End") step(count - 1);
    else return false;
    return true;
  };
  useEffect(() => {
    function onKey(event) {
      if (event.defaultPrevented || isTyping(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
      if (latestStep.current(event.key)) event.preventDefault();
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const entry = index !== null ? timeline[index] : null;
  return html`<section class="wf-state" aria-labelledby="wf-state-title">
    <h2 id="wf-state-title">State</h2>
    ${count
      ? html`<div class="wf-stepper" role="group" aria-label="Step through state changes">
          <button type="button" class="button" onClick=${() => step(0)} disabled=${index === 0} aria-label="First change">First</button>
          <button type="button" class="button" onClick=${() => step(index === null ? 0 : index - 1)} disabled=${index === 0} aria-label="Previous change">◀</button>
          <button type="button" class="button" onClick=${() => setPlaying(!playing)} aria-pressed=${playing ? "true" : "false"}>${playing ? "Pause" : "Play"}</button>
          <button type="button" class="button" onClick=${() => step(index === null ? 0 : index + 1)} disabled=${index === count - 1} aria-label="Next change">▶</button>
          <button type="button" class="button" onClick=${() => step(count - 1)} disabled=${index === count - 1} aria-label="Last change">Last</button>
          <input
            type="range"
            class="wf-scrubber"
            min="0"
            max=${count - 1}
            value=${index ?? 0}
            aria-label="State change"
            aria-valuetext=${entry ? `Change ${formatNumber(index + 1)} of ${formatNumber(count)}: ${entryLabel(entry)}` : "No change selected"}
            onInput=${(event) => step(Number(event.currentTarget.value))}
          />
          <span class="wf-position" aria-live="polite">${entry ? `Change ${formatNumber(index + 1)} of ${formatNumber(count)}` : `${formatCount(count, "change")} · ← → to step`}</span>
        </div>
        <${Timeline} timeline=${timeline} index=${index} onSelect=${step} startNs=${run.span.start_time_ns} />`
      : html`<p class="muted">This run changed no state.</p>`}
    ${entry ? html`<${ChangeHeader} entry=${entry} />` : html`<p class="wf-state-caption">${spanCaption(run, spanId)}</p>`}
    ${error ? html`<${ErrorMessage} error=${error} />` : null}
    ${loading && !data ? html`<${Loading} what="Loading the state" />` : null}
    ${data ? html`<${StateTabs} data=${data} isChange=${index !== null && data.index === index} tab=${tab} filter=${filter} onTab=${onTab} onFilter=${onFilter} />` : null}
  </section>`;
}

function spanCaption(run, spanId) {
  const span = run.spans.find((s) => s.span_id === spanId) || run.span;
  return `The state when ${span.name} started (before its own changes). Step to a change to see what it did.`;
}

function ChangeHeader({ entry }) {
  return html`<div class="wf-change-head">
    <p>
      ${entry.outside_run && entry.writer_run_name ? html`<span class="wf-other-run">Another run, ${entry.writer_run_name}: </span>` : null}<strong>${entry.node_name || entry.span_name}</strong>${" wrote "}<strong>${entry.action || "set_state"}</strong>${" to "}<strong>${entry.store_name || "a store"}</strong>
      <span class="muted"> · ${entry.sequence !== null ? `transition ${entry.sequence}` : `position ${entry.position}`}
        ${entry.revision_after !== null ? ` · revision ${entry.revision_before} → ${entry.revision_after}` : ""}</span>
    </p>
    ${entry.patch_error ? html`<p class="wf-doubt" role="note">This change could not be applied: ${entry.patch_error}</p>` : null}
    ${!entry.patch_error && !entry.state_reliable
      ? html`<p class="wf-doubt" role="note">Best effort: a change before this one is missing or failed, so these states may be wrong.</p>`
      : null}
  </div>`;
}

function StateTabs({ data, isChange, tab, filter, onTab, onFilter }) {
  if (!isChange) {
    return html`<div class="wf-tabs-body">
      ${data.reliable === false ? html`<p class="wf-doubt" role="note">Best effort: an earlier change is missing or failed.</p>` : null}
      <${PathFilter} filter=${filter} onFilter=${onFilter} />
      <${JsonView} value=${data.state} filter=${filter} label="State when the span started" />
    </div>`;
  }
  const changed = [...new Set([...(data.changed_paths || []), ...data.changes.map((c) => c.path)])];
  const current = TABS.some((t) => t.id === tab) ? tab : "changes";
  function onKeyDown(event) {
    const at = TABS.findIndex((t) => t.id === current);
    let next = null;
    if (event.key === "ArrowRight") next = TABS[(at + 1) % TABS.length];
    if (event.key === "ArrowLeft") next = TABS[(at + TABS.length - 1) % TABS.length];
    if (!next) return;
    event.preventDefault();
    event.stopPropagation();
    onTab(next.id);
    document.getElementById(`wf-tab-${next.id}`)?.focus();
  }
  return html`<div>
    <div role="tablist" aria-label="State of this change" class="wf-tabs" onKeyDown=${onKeyDown}>
      ${TABS.map(
        (t) => html`<button
          key=${t.id}
          type="button"
          role="tab"
          id=${`wf-tab-${t.id}`}
          aria-selected=${t.id === current ? "true" : "false"}
          aria-controls="wf-tab-panel"
          tabindex=${t.id === current ? "0" : "-1"}
          class="wf-tab"
          onClick=${() => onTab(t.id)}
        >${t.label}</button>`,
      )}
    </div>
    <div id="wf-tab-panel" role="tabpanel" aria-labelledby=${`wf-tab-${current}`} class="wf-tabs-body">
      <${PathFilter} filter=${filter} onFilter=${onFilter} />
      ${current === "before" ? html`<${JsonView} value=${data.state_before ?? undefined} changed=${changed} filter=${filter} label="State before" />` : null}
      ${current === "after" ? html`<${JsonView} value=${data.state_after ?? undefined} changed=${changed} filter=${filter} label="State after" />` : null}
      ${current === "patch" ? html`<${JsonView} value=${data.patch ?? undefined} filter=${filter} label="JSON patch" />` : null}
      ${current === "changes" ? html`<${ChangesTable} changes=${data.changes} filter=${filter} />` : null}
    </div>
  </div>`;
}

function PathFilter({ filter, onFilter }) {
  return html`<div class="wf-filter">
    <label for="wf-path-filter">Paths</label>
    <input
      id="wf-path-filter"
      type="search"
      placeholder="/ticket/status"
      value=${filter}
      onInput=${(event) => onFilter(event.currentTarget.value)}
    />
  </div>`;
}
