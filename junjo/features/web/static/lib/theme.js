// Light and dark follow the OS (prefers-color-scheme in app.css) until the user picks one
// with the toggle; the choice is kept in localStorage and set as <html data-theme>.

const KEY = "junjo-theme";

export function storedTheme() {
  try {
    return window.localStorage.getItem(KEY) || "system";
  } catch {
    return "system";
  }
}

export function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  try {
    if (theme === "system") window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, theme);
  } catch {
    /* private mode: the choice lasts for this page */
  }
}

/** system -> the opposite of what the OS shows -> the OS's own -> system. */
export function nextTheme(theme) {
  const osDark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  if (theme === "system") return osDark ? "light" : "dark";
  return "system";
}
