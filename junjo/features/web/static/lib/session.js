// Who is signed in, as the whole UI sees it: loaded from /api/v1/session at start and after
// sign-in; cleared by sign-out. A page that needs a user renders only once it is known.

import { api } from "./api.js";
import { useEffect, useState } from "./html.js";

let current = { status: "unknown", email: null, hasUsers: true };
const listeners = new Set();

function set(next) {
  current = next;
  for (const listener of listeners) listener(current);
}

/** Asks the server; resolves to the session: status "signed-in" | "signed-out" | "no-users".
 * `setupLinkOpened`: the browser holds the cookie of the printed setup link (no token to type). */
export async function refreshSession() {
  const found = await api("/api/v1/session");
  let status = "signed-out";
  if (found.signed_in) status = "signed-in";
  else if (!found.users_exist) status = "no-users";
  set({ status, email: found.user_email, hasUsers: found.users_exist, setupLinkOpened: found.setup_link_opened });
  return current;
}

export async function signOut() {
  try {
    await api("/sign-out", { method: "POST", quiet401: true });
  } finally {
    set({ status: "signed-out", email: null, hasUsers: true });
  }
}

export function useSession() {
  const [session, setSession] = useState(current);
  useEffect(() => {
    listeners.add(setSession);
    setSession(current);
    return () => listeners.delete(setSession);
  }, []);
  return session;
}
