// The web UI's entry point: the route table, the layout (navigation, theme, who is signed
// in) and the session guard. Each page is its own module under pages/, loaded when first
// visited, so a page's weight is paid only there. ES modules from this origin only (the CSP
// allows no inline script and no other origin); no build step.

import { html, render, useEffect, useState } from "./lib/html.js";
import { api } from "./lib/api.js";
import { Link, matchRoute, navigate, useLocation, withQuery } from "./lib/router.js";
import { refreshSession, signOut, useSession } from "./lib/session.js";
import { applyTheme, nextTheme, storedTheme } from "./lib/theme.js";
import { ErrorMessage, Loading } from "./lib/ui.js";

// `public`: shown without a session. Order matters: first match wins. UI paths never reuse an
// API path's first segment (/users, /api_keys, /sign-in, /setup are the server's).
const ROUTES = [
  { path: "/", load: () => import("./pages/home.js") },
  { path: "/welcome", load: () => import("./pages/welcome.js"), public: true },
  { path: "/login", load: () => import("./pages/login.js"), public: true },
  { path: "/traces", load: () => import("./pages/traces.js") },
  // Junjo AI Studio's playground path, before the trace route (it is one segment longer).
  { path: "/traces/:service/:traceId/:spanId/prompt-playground", load: () => import("./pages/playground.js") },
  { path: "/traces/:service/:traceId/:spanId?", load: () => import("./pages/trace.js") },
  { path: "/playground", load: () => import("./pages/playground.js") },
  { path: "/workflows/:service/:traceId/:workflowSpanId/:spanId?", load: () => import("./pages/workflow.js") },
  { path: "/runs", load: () => import("./pages/runs.js") },
  { path: "/compare", load: () => import("./pages/compare.js") },
  { path: "/keys", load: () => import("./pages/keys.js") },
  { path: "/team", load: () => import("./pages/team.js") },
  { path: "/account", load: () => import("./pages/account.js") },
  { path: "/ingest", load: () => import("./pages/ingest.js") },
];

const NAV = [
  { href: "/", label: "Home" },
  { href: "/traces", label: "Traces" },
  { href: "/runs", label: "Workflows" },
  { href: "/playground", label: "Playground" },
  { href: "/keys", label: "API keys" },
  { href: "/team", label: "Users" },
  { href: "/ingest", label: "Ingest" },
];

const loaded = new Map(); // route path -> page component

function usePage(route) {
  const [, setLoadedCount] = useState(0);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    if (!route || loaded.has(route.path)) return;
    route.load().then(
      (module) => {
        loaded.set(route.path, module.default);
        setLoadedCount((n) => n + 1);
      },
      (error) => setProblem(error),
    );
  }, [route]);
  return { Page: route ? loaded.get(route.path) : null, problem };
}

function isCurrent(href, path) {
  return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

function Nav({ path, email }) {
  const [theme, setTheme] = useState(storedTheme());
  const label = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" }[theme];
  function toggle() {
    const next = nextTheme(theme);
    applyTheme(next);
    setTheme(next);
  }
  async function onSignOut() {
    await signOut();
    navigate("/login");
  }
  return html`<header class="topbar">
    <a class="skip-link" href="#main">Skip to content</a>
    <${Link} href="/" class="brand">Junjo<//>
    <nav aria-label="Main">
      <ul>
        ${NAV.map(
          (item) => html`<li key=${item.href}>
            <${Link} href=${item.href} aria-current=${isCurrent(item.href, path) ? "page" : undefined}>${item.label}<//>
          </li>`,
        )}
      </ul>
    </nav>
    <div class="topbar-end">
      <button type="button" class="button ghost" onClick=${toggle} title="Switch light / dark">${label}</button>
      ${email
        ? html`<${Link} href="/account" class="user" title="Your account">${email}<//>
            <button type="button" class="button ghost" onClick=${onSignOut}>Sign out</button>`
        : null}
    </div>
  </header>`;
}

function App() {
  const location = useLocation();
  const session = useSession();
  const [problem, setProblem] = useState(null);
  const match = matchRoute(ROUTES, location.path);
  const route = match?.route;
  const { Page, problem: loadProblem } = usePage(route);

  useEffect(() => {
    refreshSession().catch(setProblem);
  }, []);
  useEffect(() => {
    // The guard: a page that needs a user goes to sign-in (or first-user setup) and back.
    // It reads the URL as it is now, not as it was at render: signing out navigates to
    // /login in the same tick, and must not come back as /login?next=<the page it left>.
    const routeNow = matchRoute(ROUTES, window.location.pathname)?.route;
    if (!routeNow || routeNow.public) return;
    if (session.status === "no-users") navigate("/welcome", { replace: true });
    else if (session.status === "signed-out") {
      navigate(withQuery("/login", { next: location.path + window.location.search }), { replace: true });
    }
  }, [session.status, route, location.path]);

  let body;
  if (problem || loadProblem) body = html`<${ErrorMessage} error=${problem || loadProblem} />`;
  else if (!match) body = html`<${NotFound} />`;
  else if (!Page || (!route.public && session.status !== "signed-in")) body = html`<${Loading} />`;
  else body = html`<${Page} params=${match.params} query=${location.query} session=${session} />`;
  return html`
    <${Nav} path=${location.path} email=${session.email} />
    <main id="main" tabindex="-1">${body}</main>
    <${Footer} />
  `;
}

function Footer() {
  const [version, setVersion] = useState(null);
  useEffect(() => {
    api("/health").then((health) => setVersion(health.version), () => setVersion(null));
  }, []);
  return html`<footer class="footer muted">Junjo server ${version ? version : ""}</footer>`;
}

function NotFound() {
  return html`<section><h1>Page not found</h1><p>Nothing here. <${Link} href="/">Go home<//>.</p></section>`;
}

applyTheme(storedTheme());
render(html`<${App} />`, document.getElementById("app"));
