// First-user setup. The server has no user yet: whoever holds the setup token `junjo serve`
// printed creates one and is signed in. Opening the printed setup link (/setup?token=...)
// leaves a cookie that stands for the token, so the form then asks only for email and password.

import { api } from "../lib/api.js";
import { FormError, SubmitButton, focusField, useSubmit } from "../lib/forms.js";
import { html, useEffect, useState } from "../lib/html.js";
import { Link, navigate } from "../lib/router.js";
import { refreshSession } from "../lib/session.js";
import { Field, Loading, PageTitle } from "../lib/ui.js";

export default function Welcome() {
  const [session, setSession] = useState(null);
  useEffect(() => {
    // Asked afresh: the setup cookie may have been set since the UI started.
    refreshSession().then((found) => {
      if (found.status === "signed-in") navigate("/", { replace: true });
      else setSession(found);
    }, () => setSession({ status: "no-users" }));
  }, []);
  if (!session) return html`<${Loading} />`;
  if (session.status !== "no-users") return html`<${AlreadySetUp} />`;
  return html`<${SetupForm} linkOpened=${Boolean(session.setupLinkOpened)} />`;
}

function AlreadySetUp() {
  return html`<section class="auth-page">
    <${PageTitle} title="Set up Junjo" />
    <p>This server is set up already: it has a user.</p>
    <p><${Link} href="/login">Sign in<//></p>
  </section>`;
}

function SetupForm({ linkOpened: opened }) {
  const [fields, setFields] = useState({ email: "", password: "", token: "" });
  // Cleared when the server refuses the link's cookie (it expired meanwhile): ask for the token.
  const [linkOpened, setLinkOpened] = useState(opened);
  const form = useSubmit(
    async () => {
      const body = { email: fields.email, password: fields.password };
      if (!linkOpened) body.setup_token = fields.token.trim();
      await api("/users/create-first-user", { method: "POST", body, quiet401: true });
      await refreshSession();
      navigate("/keys?welcome=1", { replace: true });
    },
    {
      onError: (error) => {
        if (error.status === 403 && linkOpened) setLinkOpened(false);
        else focusField(fieldAtFault(error, linkOpened));
      },
    },
  );
  const update = (name) => (event) => setFields({ ...fields, [name]: event.currentTarget.value });
  useEffect(() => focusField(linkOpened ? "setup-email" : "setup-token"), [linkOpened]);
  const refused = opened && !linkOpened
    ? "The setup link has expired (it lasts 15 minutes): type the setup token instead."
    : "That is not the setup token junjo serve printed. Check it and try again.";
  return html`<section class="auth-page">
    <${PageTitle} title="Set up Junjo" />
    <p>No one can sign in yet. Create the first user: you are signed in as them, and can add others later.</p>
    ${linkOpened
      ? html`<p class="notice-inline">You opened the setup link that <code>junjo serve</code> printed, so no setup token is needed.</p>`
      : null}
    <form class="narrow" onSubmit=${form.submit}>
      ${linkOpened
        ? null
        : html`<${Field}
            id="setup-token"
            label="Setup token"
            required
            autocomplete="off"
            spellcheck="false"
            value=${fields.token}
            onInput=${update("token")}
            hint=${html`The line <code>Setup token: …</code> that <code>junjo serve</code> printed when it started. Or open the setup link it printed.`}
          />`}
      <${Field} id="setup-email" label="Email" type="email" required autocomplete="username" value=${fields.email} onInput=${update("email")} />
      <${Field}
        id="setup-password"
        label="Password"
        type="password"
        required
        autocomplete="new-password"
        value=${fields.password}
        onInput=${update("password")}
        hint="At least 8 characters."
      />
      <${FormError} error=${form.error} messages=${{ 403: refused }} />
      <div class="form-actions">
        <${SubmitButton} busy=${form.busy} label="Create user and sign in" busyLabel="Creating…" />
      </div>
    </form>
    <p class="muted">
      On the server machine, <code>junjo user add you@example.com</code> creates a user too.
    </p>
  </section>`;
}

/** The field to fix for the error the server gave. */
function fieldAtFault(error, linkOpened) {
  const detail = String(error?.message || "");
  if (error?.status === 403 && !linkOpened) return "setup-token";
  if (detail.startsWith("email")) return "setup-email";
  if (detail.startsWith("password")) return "setup-password";
  return linkOpened ? "setup-email" : "setup-token";
}
