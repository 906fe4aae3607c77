// The web UI's entry point: a placeholder shell (issue 12 builds the pages on it).
// An ES module loaded from the same origin: the CSP allows no inline script.

const root = document.getElementById("app");

async function showServer() {
  const response = await fetch("/health", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`/health answered ${response.status}`);
  }
  const health = await response.json();
  const title = document.createElement("h1");
  title.textContent = health.app_name;
  const version = document.createElement("p");
  version.className = "version";
  version.textContent = `Version ${health.version}`;
  root.replaceChildren(title, version);
}

showServer().catch((error) => {
  const message = document.createElement("p");
  message.setAttribute("role", "alert");
  message.textContent = `The server did not answer: ${error.message}`;
  root.replaceChildren(message);
});
