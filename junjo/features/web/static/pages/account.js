// Your account: who you are signed in as, and changing your password. The change ends your
// other sessions (other browsers, a copied cookie); this one stays signed in.

import { api } from "../lib/api.js";
import { FormError, Notice, SubmitButton, focusField, tryAgainText, useSubmit } from "../lib/forms.js";
import { html, useState } from "../lib/html.js";
import { Field, PageTitle } from "../lib/ui.js";

const EMPTY = { current: "", next: "", again: "" };

const MESSAGES = {
  403: "Your current password is not correct.",
  429: (error) => `Too many wrong passwords. ${tryAgainText(error)}`,
};

export default function Account({ session }) {
  return html`<section class="account-page">
    <${PageTitle} title="Your account" />
    <p>Signed in as <strong>${session.email}</strong>.</p>
    <${PasswordForm} />
  </section>`;
}

class Mismatch extends Error {}

function PasswordForm() {
  const [fields, setFields] = useState(EMPTY);
  const [changed, setChanged] = useState(0);
  const form = useSubmit(
    async () => {
      if (fields.next !== fields.again) throw new Mismatch("The new passwords do not match.");
      await api("/users/me/password", {
        method: "POST",
        body: { current_password: fields.current, new_password: fields.next },
      });
      setFields(EMPTY);
      setChanged((n) => n + 1);
    },
    {
      onError: (error) => {
        setChanged(0);
        if (error instanceof Mismatch) focusField("password-again");
        else if (error.status === 422) focusField("password-new");
        else focusField("password-current");
      },
    },
  );
  const update = (name) => (event) => setFields({ ...fields, [name]: event.currentTarget.value });
  return html`<form class="panel narrow-panel" onSubmit=${form.submit}>
    <h2>Change your password</h2>
    ${changed ? html`<${Notice} key=${changed}>Password changed. Your other sessions have ended; this one stays signed in.<//>` : null}
    <${PasswordField} id="password-current" label="Current password" autocomplete="current-password" value=${fields.current} onInput=${update("current")} />
    <${PasswordField} id="password-new" label="New password" autocomplete="new-password" value=${fields.next} onInput=${update("next")} hint="At least 8 characters." />
    <${PasswordField} id="password-again" label="New password again" autocomplete="new-password" value=${fields.again} onInput=${update("again")} />
    <${FormError} error=${form.error} messages=${MESSAGES} />
    <div class="form-actions">
      <${SubmitButton} busy=${form.busy} label="Change password" busyLabel="Changing…" />
    </div>
  </form>`;
}

function PasswordField(props) {
  return html`<${Field} type="password" required ...${props} />`;
}
