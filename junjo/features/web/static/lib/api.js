// Every call to the server goes through `api`: same origin, JSON in and out, the session
// cookie sent by the browser. A 401 means the session ended (expired, signed out elsewhere):
// the UI goes to sign-in and comes back to where it was.

import { useCallback, useEffect, useRef, useState } from "./html.js";
import { navigate, withQuery } from "./router.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `The server answered ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

const PUBLIC_PAGES = new Set(["/login", "/welcome"]);

export function signInAgain() {
  const here = window.location.pathname + window.location.search;
  if (PUBLIC_PAGES.has(window.location.pathname)) return;
  navigate(withQuery("/login", { next: here, expired: 1 }), { replace: true });
}

/**
 * `api("/api/v1/traces", {query: {...}})`, `api("/api_keys", {method: "POST", body: {...}})`.
 * Resolves to the parsed JSON (or text for non-JSON answers); throws ApiError otherwise.
 * `quiet401`: the caller handles a 401 itself (the sign-in form).
 */
export async function api(path, { method = "GET", body, query, quiet401 = false, signal } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(query ? withQuery(path, query) : path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "The server cannot be reached. Is junjo serve running?");
  }
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  // Cancelled while the body was read: the body is cut short (null above), not an answer.
  signal?.throwIfAborted();
  if (response.ok) return payload;
  if (response.status === 401 && !quiet401) signInAgain();
  throw withRetryAfter(new ApiError(response.status, errorDetail(payload)), response);
}

function errorDetail(payload) {
  if (payload && typeof payload === "object") {
    const detail = payload.detail ?? payload.message;
    if (typeof detail === "string") return detail;
    if (detail !== undefined) return JSON.stringify(detail);
  }
  return typeof payload === "string" && payload.length < 300 ? payload : "";
}

/**
 * Load `path` (with `query`) whenever `key` changes: {data, error, loading, reload}.
 * A newer request cancels an older one, so a slow answer never overwrites a newer one.
 */
export function useApi(path, query, key = JSON.stringify([path, query])) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [round, setRound] = useState(0);
  const controller = useRef(null);
  useEffect(() => {
    if (!path) return undefined;
    controller.current?.abort();
    const abort = new AbortController();
    controller.current = abort;
    setState((previous) => ({ ...previous, loading: true, error: null }));
    // An abort while the body is read can still resolve (to null): a cancelled request
    // never sets the state.
    api(path, { query, signal: abort.signal }).then(
      (data) => {
        if (!abort.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error) => {
        if (!abort.signal.aborted && error.name !== "AbortError") {
          setState({ data: undefined, error, loading: false });
        }
      },
    );
    return () => abort.abort();
  }, [key, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}

/** `error.retryAfter`: the seconds of a 429's or 503's Retry-After (null without one). */
function withRetryAfter(error, response) {
  const seconds = Number.parseInt(response.headers.get("retry-after") || "", 10);
  error.retryAfter = Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
  return error;
}

/**
 * A POST answered with Server-Sent Events (the playground's streamed generation):
 * `onEvent(name, data)` for each event as it arrives; resolves when the stream ends.
 * An answer that is not a stream (a 4xx/5xx before any output) throws ApiError, as `api`.
 */
export async function apiStream(path, { body, onEvent, signal } = {}) {
  const init = {
    method: "POST",
    headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
    signal,
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "The server cannot be reached. Is junjo serve running?");
  }
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.includes("text/event-stream")) {
    const payload = type.includes("json") ? await response.json().catch(() => null) : await response.text();
    if (response.status === 401) signInAgain();
    throw withRetryAfter(new ApiError(response.status, errorDetail(payload)), response);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), onEvent);
      buffer = buffer.slice(end + 2);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
}

function dispatch(block, onEvent) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return;
  let parsed;
  try {
    parsed = JSON.parse(data.join("\n"));
  } catch {
    parsed = data.join("\n");
  }
  onEvent(name, parsed);
}
