// A virtualised list: only the rows in view (plus a margin) are in the DOM, so a list of
// 10,000 traces or a trace of 10,000 spans scrolls as lightly as one of 50. Rows have one
// fixed height; the container scrolls. Styles are objects (set through the CSSOM): the CSP
// forbids style attributes.

import { html, useEffect, useLayoutEffect, useRef, useState } from "./html.js";

const OVERSCAN = 8;

/**
 * props: items, rowHeight (px), renderRow(item, index) -> vnode (absolutely placed by us),
 * height (CSS, default "70vh"), label (accessible name), scrollTo (index to bring into view),
 * role ("list" by default; "tree" or "grid" when the rows say so).
 * containerProps: more attributes of the scrolling element (tabindex, onKeyDown,
 * aria-activedescendant); rowProps(item, index): attributes of a row's own element (role,
 * id, aria-*), so a row can be the treeitem itself.
 */
export function VirtualList({
  items,
  rowHeight,
  renderRow,
  height = "70vh",
  label,
  scrollTo,
  role = "list",
  className = "",
  containerProps = {},
  rowProps,
}) {
  const box = useRef(null);
  // The range of rows to render; a scroll that keeps it (within one row) renders nothing.
  const [view, setView] = useState(() => ({ first: 0, last: Math.ceil(600 / rowHeight) + OVERSCAN }));
  const show = (top, height) => {
    const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
    const last = Math.ceil((top + height) / rowHeight) + OVERSCAN;
    setView((previous) => (previous.first === first && previous.last === last ? previous : { first, last }));
  };
  useLayoutEffect(() => {
    const element = box.current;
    const measure = () => show(element.scrollTop, element.clientHeight || 600);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    const element = box.current;
    if (scrollTo === undefined || scrollTo === null || scrollTo < 0 || !element) return;
    const top = scrollTo * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight > element.scrollTop + element.clientHeight) {
      element.scrollTop = top + rowHeight - element.clientHeight;
    }
  }, [scrollTo, rowHeight]);
  const first = Math.min(view.first, items.length);
  const last = Math.min(items.length, Math.max(view.last, first));
  const rows = [];
  for (let index = first; index < last; index++) {
    const { class: rowClass = "", ...extra } = rowProps ? rowProps(items[index], index) : {};
    rows.push(html`<div
      class=${rowClass ? `vrow ${rowClass}` : "vrow"}
      key=${index}
      style=${{ top: `${index * rowHeight}px`, height: `${rowHeight}px` }}
      ...${extra}
    >
      ${renderRow(items[index], index)}
    </div>`);
  }
  return html`<div
      class=${`virtual ${className}`}
      ref=${box}
      role=${role}
      aria-label=${label}
      tabindex="-1"
      style=${{ height }}
      ...${containerProps}
      onScroll=${(event) => show(event.currentTarget.scrollTop, event.currentTarget.clientHeight)}
    >
      <div class="vspace" style=${{ height: `${items.length * rowHeight}px` }}>${rows}</div>
    </div>`;
}
