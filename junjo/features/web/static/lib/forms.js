// What the UI's forms share: a submit that shows it is busy and keeps the error to announce,
// the words for a refused request, the submit button, and a notice of success.

import { api } from "./api.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { formatTime, formatWait } from "./format.js";
import { ErrorMessage } from "./ui.js";

/**
 * `const form = useSubmit(async () => {...}, {onError})`; `form.submit` is the form's onSubmit.
 * It stops the page load, ignores a second submit while one is under way, and keeps what the
 * action throws as `form.error` (shown with FormError, whose role=alert announces it; a
 * repeated error is announced again, as the old one is cleared first). `onError(error)` may
 * move focus to the field at fault.
 */
export function useSubmit(action, { onError } = {}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const running = useRef(false);
  async function submit(event) {
    event?.preventDefault();
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      await action(event);
    } catch (caught) {
      if (caught?.name !== "AbortError") {
        setError(caught);
        onError?.(caught);
      }
    } finally {
      running.current = false;
      setBusy(false);
    }
  }
  return { busy, error, setError, submit };
}

/**
 * What to tell the user about a failed request: `messages[status]` (a text, or a function
 * of the error) when given, "try again in ..." for a throttled or busy answer, else the
 * server's own words.
 */
export function errorText(error, messages = {}) {
  if (!error) return null;
  const own = messages[error.status];
  if (typeof own === "function") return own(error);
  if (own) return own;
  if (error.status === 429) return `Too many attempts. ${tryAgainText(error)}`;
  if (error.status === 503 && typeof error.retryAfter === "number") return `The server is busy. ${tryAgainText(error)}`;
  return error.message || String(error);
}

/** "Try again in 40 s (at 14:02:31)." from the answer's Retry-After. */
export function tryAgainText(error) {
  const seconds = error?.retryAfter;
  if (typeof seconds !== "number") return "Try again later.";
  // formatTime's "YYYY-MM-DD HH:MM:SS.mmm", cut to the clock (to the second for short waits).
  const clock = formatTime((Date.now() + seconds * 1000) * 1e6).slice(11, seconds < 120 ? 19 : 16);
  return `Try again in ${formatWait(seconds)} (at ${clock}).`;
}

/** The form's error, announced (role=alert); nothing when there is none. */
export function FormError({ error, messages }) {
  return html`<${ErrorMessage} error=${errorText(error, messages)} />`;
}

/** The submit button. It stays focusable while busy (aria-disabled, not disabled), so focus
 * does not fall back to the page when it is pressed; useSubmit ignores the second press. */
export function SubmitButton({ busy, label, busyLabel = `${label}…`, className = "primary" }) {
  return html`<button type="submit" class=${`button ${className}`} aria-disabled=${busy ? "true" : undefined}>
    ${busy ? busyLabel : label}
  </button>`;
}

/** A success notice (role=status) that takes focus when it appears, so keyboard and screen
 * reader users land on what happened; `children` is its text. */
export function Notice({ children }) {
  const box = useRef(null);
  useEffect(() => {
    box.current?.focus();
  }, []);
  return html`<p class="notice" role="status" tabindex="-1" ref=${box}>${children}</p>`;
}

/** Focus (and select) the element with this id: where the user should type next. */
export function focusField(id) {
  const element = document.getElementById(id);
  if (!element) return;
  element.focus();
  if (typeof element.select === "function") element.select();
}

/**
 * Deleting a row of a list after a confirmation (pages keys and team): `ask(item)` opens the
 * dialog (`deleting` is the item), `confirm()` sends DELETE to `pathOf(item)`, keeps what
 * the server refused as `problem`, calls `onDeleted(item)`, reloads the list and moves focus
 * to the list's heading (`headingRef`), since the row whose button had it is gone.
 */
export function useConfirmedDelete(pathOf, { reload, onDeleted, onStart }) {
  const [deleting, setDeleting] = useState(null);
  const [problem, setProblem] = useState(null);
  const [focusList, setFocusList] = useState(false);
  const headingRef = useRef(null);
  useEffect(() => {
    if (focusList && !deleting) {
      headingRef.current?.focus();
      setFocusList(false);
    }
  }, [focusList, deleting]);
  async function confirm() {
    const item = deleting;
    setProblem(null);
    onStart?.();
    try {
      await api(pathOf(item), { method: "DELETE" });
      onDeleted?.(item);
    } catch (error) {
      setProblem(error);
    }
    setDeleting(null);
    setFocusList(true);
    reload();
  }
  return { deleting, problem, headingRef, ask: setDeleting, confirm, cancel: () => setDeleting(null) };
}
