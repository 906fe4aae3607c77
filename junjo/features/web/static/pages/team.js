// Users: who can sign in. Add one (you tell them the password; they change it on their
// account page), delete one. The server refuses deleting yourself and the last user; the
// page does not offer either.

import { api, useApi } from "../lib/api.js";
import { FormError, Notice, SubmitButton, focusField, useConfirmedDelete, useSubmit } from "../lib/forms.js";
import { html, useState } from "../lib/html.js";
import { Link } from "../lib/router.js";
import { Badge, ConfirmDialog, ErrorMessage, Field, Loading, PageTitle, When } from "../lib/ui.js";

export default function Team({ session }) {
  const users = useApi("/users");
  const [added, setAdded] = useState(null);
  const deletion = useConfirmedDelete((user) => `/users/${encodeURIComponent(user.id)}`, {
    reload: users.reload,
    onStart: () => setAdded(null),
  });

  return html`<section class="team-page">
    <${PageTitle} title="Users" />
    <h2 id="users-heading" tabindex="-1" ref=${deletion.headingRef}>People who can sign in</h2>
    <${ErrorMessage} error=${deletion.problem} />
    <${UserList} state=${users} me=${session.email} onDelete=${deletion.ask} />
    <${AddUserForm} added=${added} onAdded=${(email) => { setAdded(email); users.reload(); }} />
    <${ConfirmDialog}
      open=${Boolean(deletion.deleting)}
      title="Delete this user?"
      message=${deletion.deleting ? `${deletion.deleting.email} can no longer sign in, and their open sessions end at once.` : ""}
      confirmLabel="Delete user"
      onConfirm=${deletion.confirm}
      onCancel=${deletion.cancel}
    />
  </section>`;
}

function UserList({ state, me, onDelete }) {
  if (state.error) return html`<${ErrorMessage} error=${state.error} />`;
  if (state.data === undefined) return html`<${Loading} />`;
  const last = state.data.length <= 1;
  return html`<table class="data users-table">
    <thead>
      <tr><th scope="col">Email</th><th scope="col">Added</th><th scope="col"><span class="offscreen">Actions</span></th></tr>
    </thead>
    <tbody>
      ${state.data.map((user) => {
        const isMe = user.email === me;
        return html`<tr key=${user.id}>
          <td>${user.email} ${isMe ? html`<${Badge} tone="info">you<//>` : null} ${user.is_active ? null : html`<${Badge} tone="warning">inactive<//>`}</td>
          <td><${When} iso=${user.created_at} /></td>
          <td class="row-actions">
            ${isMe
              ? html`<${Link} href="/account">Change your password<//>`
              : last
                ? null
                : html`<button type="button" class="button danger" aria-label=${`Delete user ${user.email}`} onClick=${() => onDelete(user)}>Delete</button>`}
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function AddUserForm({ added, onAdded }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(
    async () => {
      await api("/users", { method: "POST", body: { email, password } });
      setEmail("");
      setPassword("");
      onAdded(email.trim().toLowerCase());
    },
    { onError: (error) => focusField(String(error.message).startsWith("password") ? "user-password" : "user-email") },
  );
  return html`<form class="panel narrow-panel" onSubmit=${form.submit}>
    <h2>Add a user</h2>
    ${added ? html`<${Notice} key=${added}>Added ${added}. Tell them their password; they can change it on their account page.<//>` : null}
    <${Field} id="user-email" label="Email" type="email" required autocomplete="off" value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
    <${Field}
      id="user-password"
      label="Password"
      type="password"
      required
      autocomplete="new-password"
      value=${password}
      onInput=${(e) => setPassword(e.currentTarget.value)}
      hint="At least 8 characters. Tell it to them; they can change it after signing in."
    />
    <${FormError} error=${form.error} messages=${{ 409: "A user with this email exists already." }} />
    <div class="form-actions">
      <${SubmitButton} busy=${form.busy} label="Add user" busyLabel="Adding…" />
    </div>
  </form>`;
}
