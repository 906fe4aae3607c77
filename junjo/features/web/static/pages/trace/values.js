// Attribute values shown readably: JSON (objects, arrays, and strings that hold JSON) as a
// collapsible tree, long text cut with a control to show it all, numbers and booleans as
// they are. Every value is text to htm: nothing here is ever markup.

import { html, useState } from "../../lib/html.js";

export const TEXT_LIMIT = 2000; // characters shown before "Show all"
const ITEMS_LIMIT = 100; // items of an array or map shown before "Show more"
const PARSE_LIMIT = 2_000_000; // longer strings are not parsed as JSON

/** A string that is a JSON object or array, parsed; else undefined. */
export function jsonIn(text) {
  if (typeof text !== "string" || text.length > PARSE_LIMIT) return undefined;
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return undefined;
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === "object" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function Value({ value }) {
  if (value === null || value === undefined) return html`<span class="value-null">null</span>`;
  if (typeof value === "boolean" || typeof value === "number") {
    return html`<span class="value-scalar">${String(value)}</span>`;
  }
  if (typeof value === "object") return html`<${JsonValue} value=${value} open=${true} />`;
  const parsed = jsonIn(value);
  if (parsed !== undefined) return html`<${JsonValue} value=${parsed} open=${true} />`;
  return html`<${LongText} text=${String(value)} />`;
}

/** Text cut at `limit` characters, with a button that shows the whole of it. */
export function LongText({ text, limit = TEXT_LIMIT, className = "value-text" }) {
  const [whole, setWhole] = useState(false);
  const cut = !whole && text.length > limit;
  return html`<span class=${className}>${cut ? `${text.slice(0, limit)}…` : text}${text === "" ? html`<span class="value-null">(empty)</span>` : null}</span>
    ${text.length > limit
      ? html`<button type="button" class="button small value-more" onClick=${() => setWhole(!whole)} aria-expanded=${String(whole)}>
          ${whole ? "Show less" : `Show all ${text.length.toLocaleString("en-US")} characters`}
        </button>`
      : null}`;
}

function size(value) {
  return Array.isArray(value) ? value.length : Object.keys(value).length;
}

/** An object or array as nested <details>: native, keyboard-operable, collapsible. */
export function JsonValue({ value, open = false, depth = 0 }) {
  const isArray = Array.isArray(value);
  const count = size(value);
  const label = isArray ? `[ ${count} item${count === 1 ? "" : "s"} ]` : `{ ${count} key${count === 1 ? "" : "s"} }`;
  if (count === 0) return html`<span class="value-scalar">${isArray ? "[]" : "{}"}</span>`;
  return html`<details class="json" open=${open && depth < 2}>
    <summary>${label}</summary>
    <${JsonItems} value=${value} depth=${depth} />
  </details>`;
}

function JsonItems({ value, depth }) {
  const [shown, setShown] = useState(ITEMS_LIMIT);
  const entries = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
  return html`<ul class="json-items">
    ${entries.slice(0, shown).map(
      ([key, item]) => html`<li key=${key}>
        <span class="json-key">${Array.isArray(value) ? key : JSON.stringify(key)}:</span>
        ${' '}${item !== null && typeof item === "object"
          ? html`<${JsonValue} value=${item} open=${depth < 1} depth=${depth + 1} />`
          : html`<${JsonLeaf} value=${item} />`}
      </li>`,
    )}
    ${entries.length > shown
      ? html`<li><button type="button" class="button small" onClick=${() => setShown(shown + ITEMS_LIMIT * 10)}>
          Show ${Math.min(entries.length - shown, ITEMS_LIMIT * 10).toLocaleString("en-US")} more of ${entries.length.toLocaleString("en-US")}
        </button></li>`
      : null}
  </ul>`;
}

function JsonLeaf({ value }) {
  if (typeof value === "string") return html`<${LongText} text=${value} className="json-string" />`;
  return html`<span class="value-scalar">${value === null ? "null" : String(value)}</span>`;
}
