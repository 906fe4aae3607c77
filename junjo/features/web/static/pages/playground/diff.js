// A word diff of a new output against the original: the longest common subsequence of
// their words (and the spaces between), as runs of "same", "added" and "removed" text.

import { html } from "../../lib/html.js";

const MAX_TOKENS = 3000; // 3,000 x 3,000 cells is about 9 M steps: a few ms

function tokens(text) {
  return String(text || "").split(/(\s+)/).filter((token) => token !== "");
}

/** [{kind: "same" | "added" | "removed", text}], or null when the texts are too long. */
export function wordDiff(before, after) {
  const a = tokens(before);
  const b = tokens(after);
  if (a.length > MAX_TOKENS || b.length > MAX_TOKENS) return null;
  // lengths[i][j]: LCS of a[i:] and b[j:], one row of Uint16 per i.
  const lengths = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i][j] = a[i] === b[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const runs = [];
  const push = (kind, text) => {
    const last = runs[runs.length - 1];
    if (last && last.kind === kind) last.text += text;
    else runs.push({ kind, text });
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      push("same", a[i]);
      i++;
      j++;
    } else if (lengths[i + 1][j] >= lengths[i][j + 1]) push("removed", a[i++]);
    else push("added", b[j++]);
  }
  while (i < a.length) push("removed", a[i++]);
  while (j < b.length) push("added", b[j++]);
  return runs;
}

/** The diff as text with <ins>/<del> (announced by screen readers as inserted/deleted). */
export function Diff({ before, after }) {
  if (!before) return html`<p class="muted">No original output to compare with.</p>`;
  const runs = wordDiff(before, after);
  if (!runs) return html`<p class="muted">Too long to compare word by word.</p>`;
  if (runs.every((run) => run.kind === "same")) return html`<p class="muted">Same as the original.</p>`;
  return html`<p class="pg-diff">
    ${runs.map((run, index) => {
      if (run.kind === "added") return html`<ins key=${index}>${run.text}</ins>`;
      if (run.kind === "removed") return html`<del key=${index}>${run.text}</del>`;
      return html`<span key=${index}>${run.text}</span>`;
    })}
  </p>`;
}
