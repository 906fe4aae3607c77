// History routing: every selection lives in the URL (path and query), so reload, deep
// links and back/forward work. `navigate` pushes (or replaces) an entry; components re-render
// through `useLocation`.

import { html, useEffect, useState } from "./html.js";

const listeners = new Set();

function notify() {
  for (const listener of listeners) listener(currentLocation());
}

export function currentLocation() {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Go to `url` (a same-origin path with an optional query). */
export function navigate(url, { replace = false } = {}) {
  if (url === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  notify();
}

/** Change some query parameters of the current URL (null or "" removes one). */
export function setQuery(updates, { replace = false } = {}) {
  const query = new URLSearchParams(window.location.search);
  for (const [name, value] of Object.entries(updates)) {
    if (value === null || value === undefined || value === "" || value === false) query.delete(name);
    else query.set(name, String(value));
  }
  const search = query.toString();
  navigate(window.location.pathname + (search ? `?${search}` : ""), { replace });
}

/** A path with a query built from `params` (empty values left out). */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "" && value !== false) query.set(name, String(value));
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

window.addEventListener("popstate", notify);

export function useLocation() {
  const [location, setLocation] = useState(currentLocation);
  useEffect(() => {
    listeners.add(setLocation);
    return () => listeners.delete(setLocation);
  }, []);
  return location;
}

/** An <a> that navigates in the page (a modified click still opens a new tab). */
export function Link({ href, children, ...rest }) {
  function onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  }
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

/**
 * Match `path` against patterns like "/traces/:service/:traceId/:spanId?"; returns
 * {route, params} of the first match, or null. Segments are URL-decoded.
 */
export function matchRoute(routes, path) {
  const parts = path.split("/").filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split("/").filter(Boolean);
    const params = {};
    let ok = true;
    for (let i = 0; i < Math.max(pattern.length, parts.length); i++) {
      const want = pattern[i];
      const have = parts[i];
      if (want === undefined) { ok = false; break; }
      if (want.startsWith(":")) {
        const optional = want.endsWith("?");
        const name = want.slice(1, optional ? -1 : undefined);
        if (have === undefined) { if (optional) continue; ok = false; break; }
        try { params[name] = decodeURIComponent(have); } catch { ok = false; break; }
      } else if (want !== have) { ok = false; break; }
    }
    if (ok) return { route, params };
  }
  return null;
}

/** A safe in-app return path from a `next` query value ("/" when it is not one). */
export function safeNext(next) {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//")) return "/";
  return next;
}
