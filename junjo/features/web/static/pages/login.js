// Sign-in. `?next=` is where to go back to (an in-app path only: router.safeNext), and
// `?expired=1` says the session ended there (api.js adds both on a 401).

import { api } from "../lib/api.js";
import { FormError, SubmitButton, focusField, tryAgainText, useSubmit } from "../lib/forms.js";
import { html, useEffect, useState } from "../lib/html.js";
import { navigate, safeNext } from "../lib/router.js";
import { refreshSession } from "../lib/session.js";
import { Field, Loading, PageTitle } from "../lib/ui.js";

export default function Login({ query }) {
  const next = safeNext(query.get("next"));
  const expired = query.get("expired") === "1";
  const [ready, setReady] = useState(false);
  useEffect(() => {
    // Asked afresh, not from the UI's memory: after a 401 that still says "signed in".
    refreshSession().then((found) => {
      if (found.status === "signed-in") navigate(next, { replace: true });
      else if (found.status === "no-users") navigate("/welcome", { replace: true });
      else setReady(true);
    }, () => setReady(true));
  }, []);
  if (!ready) return html`<${Loading} />`;
  return html`<${SignInForm} next=${next} expired=${expired} />`;
}

const MESSAGES = {
  401: "Wrong email or password.",
  429: (error) => `Too many failed sign-in attempts. ${tryAgainText(error)}`,
};

function SignInForm({ next, expired }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(
    async () => {
      await api("/sign-in", { method: "POST", body: { email, password }, quiet401: true });
      await refreshSession();
      navigate(next, { replace: true });
    },
    { onError: (error) => focusField(error.status === 401 ? "login-password" : "login-email") },
  );
  useEffect(() => focusField("login-email"), []);
  return html`<section class="auth-page">
    <${PageTitle} title="Sign in" />
    ${expired
      ? html`<p class="notice-inline" role="status">Your session has ended. Sign in again to go back to where you were.</p>`
      : null}
    <form class="narrow" onSubmit=${form.submit}>
      <${Field} id="login-email" label="Email" type="email" required autocomplete="username" value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <${Field}
        id="login-password"
        label="Password"
        type="password"
        required
        autocomplete="current-password"
        value=${password}
        onInput=${(e) => setPassword(e.currentTarget.value)}
      />
      <${FormError} error=${form.error} messages=${MESSAGES} />
      <div class="form-actions">
        <${SubmitButton} busy=${form.busy} label="Sign in" busyLabel="Signing in…" />
      </div>
    </form>
    <p class="muted">Forgot your password? Another user can delete and re-add you, or on the server machine run <code>junjo user passwd</code>.</p>
  </section>`;
}
