// The web UI's entry point: a placeholder shell (issue 12 builds the pages on it).
// An ES module from the same origin (the CSP allows no inline script), rendering with the
// vendored Preact and htm (scripts/vendor_web.py; htm escapes every interpolated string).

import { h, render } from "/static/vendor/preact-11.2.0/preact.mjs";
import { useEffect, useState } from "/static/vendor/preact-11.2.0/hooks.mjs";
import htm from "/static/vendor/htm-3.1.1/htm.mjs";

const html = htm.bind(h);

async function fetchHealth() {
  const response = await fetch("/health", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`/health answered ${response.status}`);
  }
  return response.json();
}

function App() {
  const [health, setHealth] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    fetchHealth().then(setHealth, (error) => setProblem(error.message));
  }, []);
  if (problem) {
    return html`<p role="alert">The server did not answer: ${problem}</p>`;
  }
  if (!health) {
    return html`<p aria-busy="true">Loading…</p>`;
  }
  return html`
    <h1>${health.app_name}</h1>
    <p class="version">Version ${health.version}</p>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
