// Placeholder: this page is being built (issue 12).
import { html } from "../lib/html.js";
import { PageTitle } from "../lib/ui.js";

export default function Page() {
  return html`<${PageTitle} title="traces" /><p>Coming next.</p>`;
}
