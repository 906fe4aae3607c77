// Small components every page uses. Escaping is htm's: pass data as ${values}, never as markup.

import { formatAgo, formatTime, nsFromIso } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";

export function Loading({ what = "Loading" }) {
  return html`<p class="muted" aria-busy="true">${what}…</p>`;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : error.message || String(error);
  return html`<p class="error-message" role="alert">${text}</p>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

export function PageTitle({ title, children }) {
  useEffect(() => {
    document.title = title ? `${title} · Junjo` : "Junjo";
  }, [title]);
  return html`<header class="page-title"><h1>${title}</h1>${children ? html`<div class="actions">${children}</div>` : null}</header>`;
}

/** "ok" | "error" | "warning" | "info" badge with a text (never colour alone). */
export function Badge({ tone = "info", children, title }) {
  return html`<span class=${`badge badge-${tone}`} title=${title}>${children}</span>`;
}

/** Copies `text` (or what the function `text` returns, or resolves to) to the clipboard;
 * says "Copied" for a moment. */
export function CopyButton({ text, label = "Copy", className = "" }) {
  const [copied, setCopied] = useState(false);
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);
  async function copy() {
    let value;
    try {
      value = await (typeof text === "function" ? text() : text);
    } catch (error) {
      setCopied(`Copy failed: ${error.message || error}`);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(false), 3000);
      return;
    }
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      fallbackCopy(value);
    }
    setCopied(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setCopied(false), 1500);
  }
  return html`<button type="button" class=${`button ${className}`} onClick=${copy}>
    ${copied === true ? "Copied" : copied || label}
  </button>`;
}

function fallbackCopy(text) {
  // Without clipboard permission (plain http on a LAN address): a hidden textarea and execCommand.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

/**
 * A modal confirmation (<dialog>): `open`, `title`, `message`, `confirmLabel`, onConfirm, onCancel.
 * Focus goes to Cancel; Escape cancels.
 */
export function ConfirmDialog({ open, title, message, confirmLabel = "Delete", onConfirm, onCancel }) {
  const dialog = useRef(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="confirm-title" onCancel=${(event) => { event.preventDefault(); onCancel(); }}>
    <h2 id="confirm-title">${title}</h2>
    <p>${message}</p>
    <div class="actions">
      <button type="button" class="button" onClick=${onCancel} autofocus>Cancel</button>
      <button type="button" class="button danger" onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

/** A labelled form field: label text, then the input (props passed on). */
export function Field({ label, id, hint, ...input }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} aria-describedby=${hint ? `${id}-hint` : undefined} ...${input} />
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
  </div>`;
}

/** An ISO-8601 time of the control plane (a key's, a user's) as "5 min ago", the exact
 * local time as its tooltip; "never" when there is none. */
export function When({ iso }) {
  if (!iso) return html`<span class="muted">never</span>`;
  const ns = nsFromIso(iso);
  return html`<time datetime=${iso} title=${formatTime(ns)}>${formatAgo(ns)}</time>`;
}
