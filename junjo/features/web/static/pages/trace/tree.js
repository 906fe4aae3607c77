// The span tree with its waterfall: one row per visible span, indented by depth, with a
// timing bar on the trace's time axis (so concurrent spans show as overlapping bars) and
// its duration. Virtualised (lib/virtual.js): a 10,000-span trace keeps ~50 rows in the DOM.
// The tree is one focusable element (aria-activedescendant names the selected row), so the
// keyboard works whatever rows happen to be rendered.

import { html, useRef } from "../../lib/html.js";
import { formatDuration } from "../../lib/format.js";
import { VirtualList } from "../../lib/virtual.js";

export const ROW_HEIGHT = 28;
const TICKS = [0, 0.25, 0.5, 0.75, 1];

export function rowId(span) {
  return `span-row-${span.id}`;
}

/** The time axis above the tree: tick labels at 0, ¼, ½, ¾ and the whole trace. */
export function TimeAxis({ total }) {
  return html`<div class="trace-axis" aria-hidden="true">
    <span class="trace-axis-name">Span</span>
    <span class="trace-axis-track">
      ${TICKS.map(
        (tick) => html`<span key=${tick} class=${`trace-tick trace-tick-${tick * 100}`} style=${{ left: `${tick * 100}%` }}>
          ${formatDuration(Math.round(total * tick))}
        </span>`,
      )}
    </span>
    <span class="trace-axis-duration">Duration</span>
  </div>`;
}

/**
 * props: model, rows (visible indexes), selected (index), collapsed (Set), matches (Set or
 * null), onSelect(index, {push}), onToggle(index), onKeyDown(event), scrollTo (row).
 */
export function SpanTree({ model, rows, selected, collapsed, matches, onSelect, onToggle, onKeyDown, scrollTo, height }) {
  const { nodes, total } = model;
  const selectedNode = nodes[selected];
  function rowProps(index) {
    const node = nodes[index];
    const hasChildren = node.children.length > 0;
    const classes = ["span-row"];
    if (index === selected) classes.push("selected");
    if (node.span.error) classes.push("is-error");
    if (matches && matches.has(index)) classes.push("is-match");
    return {
      class: classes.join(" "),
      role: "treeitem",
      id: rowId(node.span),
      "aria-level": node.depth + 1,
      "aria-selected": index === selected ? "true" : "false",
      "aria-expanded": hasChildren && !matches ? String(!collapsed.has(index)) : undefined,
      "data-span-id": node.span.id,
      onClick: () => onSelect(index, { push: true }),
    };
  }
  // A row's content depends on the tree, not on scrolling or selection: the same vnode is
  // handed back while those stay, and Preact skips rendering it again (scrolling then costs
  // only the rows that come into view).
  const cache = useRef({ model: null, collapsed: null, matches: null, rows: new Map() });
  const current = cache.current;
  if (current.model !== model || current.collapsed !== collapsed || current.matches !== matches) {
    Object.assign(current, { model, collapsed, matches, rows: new Map() });
  }
  const toggle = useRef(onToggle);
  toggle.current = onToggle;
  function renderRow(index) {
    let row = current.rows.get(index);
    if (!row) {
      row = html`<${SpanRow} node=${nodes[index]} total=${total} service=${model.service} collapsed=${collapsed.has(index)} searching=${Boolean(matches)} onToggle=${(i) => toggle.current(i)} />`;
      current.rows.set(index, row);
    }
    return row;
  }
  return html`<${VirtualList}
    items=${rows}
    rowHeight=${ROW_HEIGHT}
    renderRow=${renderRow}
    rowProps=${rowProps}
    height=${height}
    role="tree"
    label="Spans"
    className="trace-tree"
    scrollTo=${scrollTo}
    containerProps=${{
      tabindex: 0,
      onKeyDown,
      "aria-activedescendant": selectedNode ? rowId(selectedNode.span) : undefined,
    }}
  />`;
}

function SpanRow({ node, total, service, collapsed, searching, onToggle }) {
  const { span } = node;
  const start = Number(span.start) || 0;
  const duration = Math.max(0, Number(span.duration) || 0);
  const left = Math.min(100, (start / total) * 100);
  const width = Math.min(100 - left, (duration / total) * 100);
  const hasChildren = node.children.length > 0;
  const twisty = !hasChildren ? "" : collapsed && !searching ? "▸" : "▾";
  function toggle(event) {
    event.stopPropagation();
    if (hasChildren && !searching) onToggle(node.index);
  }
  const barClass = `trace-bar${span.error ? " bar-error" : span.llm ? " bar-llm" : ""}${duration === 0 ? " bar-instant" : ""}`;
  return html`<span class="trace-name" style=${{ paddingLeft: `${Math.min(node.depth, 40) * 14 + 4}px` }}>
      <span class="trace-twisty" aria-hidden="true" onClick=${toggle}>${twisty}</span>
      <span class="trace-span-name" title=${span.name}>${span.name || "(no name)"}</span>
      ${node.orphan ? html`<span class="badge badge-warning" title="Its parent span is not in this trace">parent missing</span>` : null}
      ${node.skew ? html`<span class="badge badge-warning" title="It starts before or ends after its parent (clock skew?)">skew</span>` : null}
      ${span.error ? html`<span class="badge badge-error">error</span>` : null}
      ${span.llm ? html`<span class="badge badge-info">LLM</span>` : null}
      ${span.type ? html`<span class="trace-type muted">${span.type}</span>` : null}
      ${span.service !== service ? html`<span class="trace-service muted" title="Service">${span.service || "(no service)"}</span>` : null}
    </span>
    <span class="trace-track">
      <span class=${barClass} data-left=${left.toFixed(4)} data-width=${width.toFixed(4)} style=${{ left: `${left}%`, width: `${width}%` }}></span>
    </span>
    <span class="trace-duration">${formatDuration(duration)}</span>`;
}
