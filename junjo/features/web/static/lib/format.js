// How the UI writes numbers, times and durations: one place for each.

const NS_PER_MS = 1e6;

/** 3 µs, 12.4 ms, 1.25 s, 2 m 5 s. `ns` may be a number or a decimal string. */
export function formatDuration(ns) {
  const value = Number(ns);
  if (!Number.isFinite(value) || value < 0) return "–";
  if (value < 1e3) return `${value} ns`;
  if (value < 1e6) return `${trim(value / 1e3)} µs`;
  if (value < 1e9) return `${trim(value / 1e6)} ms`;
  if (value < 60e9) return `${trim(value / 1e9)} s`;
  const seconds = Math.round(value / 1e9);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} m`;
}

function trim(number) {
  return number >= 100 ? number.toFixed(0) : number >= 10 ? number.toFixed(1) : number.toFixed(2);
}

/** A local date and time to the millisecond, from ns since the epoch. */
export function formatTime(ns) {
  const value = Number(ns);
  if (!Number.isFinite(value) || value <= 0) return "–";
  const date = new Date(value / NS_PER_MS);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}

/** "3 s ago", "5 min ago", or the date. */
export function formatAgo(ns, nowMs = Date.now()) {
  const value = Number(ns);
  if (!Number.isFinite(value) || value <= 0) return "never";
  const seconds = Math.max(0, Math.round((nowMs - value / NS_PER_MS) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return formatTime(ns).slice(0, 10);
}

export function formatNumber(value) {
  if (value === null || value === undefined || value === "") return "–";
  const number = Number(value);
  return Number.isFinite(number) ? number.toLocaleString("en-US") : String(value);
}

export function formatPercent(fraction) {
  const number = Number(fraction);
  return Number.isFinite(number) ? `${(number * 100).toFixed(number && number < 0.01 ? 2 : 1)}%` : "–";
}

/** The first 8 characters of an id, for display beside the whole id in a title. */
export function shortId(id) {
  return typeof id === "string" ? id.slice(0, 8) : "";
}

/** ns since the epoch from the control plane's ISO-8601 times ("2026-01-02T03:04:05Z"). */
export function nsFromIso(iso) {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms * 1e6 : 0;
}

/** 512 B, 3.4 KiB, 12.0 MiB. */
export function formatBytes(bytes) {
  const value = Number(bytes);
  if (!Number.isFinite(value) || value < 0) return "–";
  if (value < 1024) return `${value} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${trim(scaled)} ${units[unit]}`;
}

/** A wait in whole seconds as people say it: "40 s", "3 min", "1 h 5 min". */
export function formatWait(seconds) {
  const value = Math.max(0, Math.ceil(Number(seconds) || 0));
  if (value < 60) return `${value} s`;
  const minutes = Math.ceil(value / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "1 entry", "3 entries", "1,024 spans": a formatted count with the right word. */
export function formatCount(count, one, many = `${one}s`) {
  return `${formatNumber(count)} ${Number(count) === 1 ? one : many}`;
}

/** US dollars as LLM prices need them: "$0.0123", "$0.000045", "$1.24"; "–" for none. */
export function formatUsd(usd) {
  const value = Number(usd);
  if (usd === null || usd === undefined || !Number.isFinite(value)) return "–";
  if (value === 0) return "$0";
  if (value >= 1) return `$${value.toFixed(2)}`;
  return `$${value.toPrecision(2).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")}`;
}
