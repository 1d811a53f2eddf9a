// Who is signed in. On boot: GET /admin/api/session (a user's cookie session); without one, `{ me }`
// (a browser that sends an X-API-Key header, e.g. a system's kiosk or the tests); else the sign-in page.
// The CSRF token lives in memory and in sessionStorage (this tab only), never in localStorage.
import { reactive } from "vue";
import { adminApi, gql } from "./api.js";
import { forgetKey, storedKey } from "./link.js";

const TOKEN_KEY = "hub.console.csrf";

export const session = reactive({
  ready: false,
  user: null, // {username, displayName, role, regionCode, canUnmask, actions}
  mode: null, // "session" | "key"
  csrfToken: sessionStorage.getItem(TOKEN_KEY),
  signInAvailable: null, // false when the hub has no /admin/api/session (404)
  expiredAt: null,
  linkKey: !!storedKey(), // signed in by the demo link's key (sign-out forgets it)
  passwordMinLength: null, // the hub's minimum length of a password (`me.passwordMinLength`), once known
  expired() {
    if (this.mode === "session") {
      this.user = null;
      this.expiredAt = Date.now();
    }
  },
});

/** Requests waiting for the user to sign in again (api.js retries them then). */
let waiting = [];

/** Resolves when the user has signed in again after the session ended. */
export function signedInAgain() {
  return new Promise((resolve) => waiting.push(resolve));
}

function setToken(token) {
  session.csrfToken = token || null;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function fromSession(body) {
  const u = body.user;
  session.user = {
    username: u.username,
    displayName: u.displayName || u.username,
    role: u.role,
    regionCode: u.regionCode,
    canUnmask: !!u.canUnmask,
    actions: [],
  };
  session.mode = "session";
  setToken(body.csrfToken);
}

const ME = "query ConsoleMe { me { name role regionCode canUnmask actions passwordMinLength } }";

/** What the policy table lets the signed-in user do (`me.actions`): the menu and the buttons offer only that;
 * and the hub's password minimum, which the password forms check before sending. */
async function loadActions() {
  try {
    const data = await gql(ME);
    if (session.user) session.user.actions = data.me.actions;
    session.passwordMinLength = data.me.passwordMinLength;
  } catch (e) {
    if (session.user) session.user.actions = [];
  }
}

/** Whether the signed-in principal may do `action` (a policy-table action such as "admin.read"). */
export function may(action) {
  return !!(session.user && session.user.actions && session.user.actions.includes(action));
}

export async function boot() {
  try {
    const { status, body } = await adminApi("GET", "session");
    session.signInAvailable = status !== 404;
    if (status === 200 && body && body.user) {
      fromSession(body);
      await loadActions();
      session.ready = true; // a reload while signed in: the session stands
      return;
    }
  } catch (e) {
    session.signInAvailable = false;
  }
  try {
    const data = await gql(ME);
    session.user = {
      username: data.me.name,
      displayName: data.me.name,
      role: data.me.role,
      regionCode: data.me.regionCode,
      canUnmask: data.me.canUnmask,
      actions: data.me.actions,
    };
    session.passwordMinLength = data.me.passwordMinLength;
    session.mode = "key";
  } catch (e) {
    session.user = null;
  } finally {
    session.ready = true;
  }
}

/** Resolves to null on success, or {code, message} as the API said it (BAD_CREDENTIALS, ACCOUNT_LOCKED …). */
export async function signIn(username, password) {
  const { status, body } = await adminApi("POST", "sign-in", { username, password });
  if (status === 200 && body && body.user) {
    fromSession(body);
    session.expiredAt = null;
    await loadActions();
    const resume = waiting;
    waiting = [];
    for (const resolve of resume) resolve();
    return null;
  }
  return refusal(status, body);
}

/** The hub's refusal as {code, message}: `{errors: [{message, extensions: {code}}]}` (as /graphql says it). */
function refusal(status, body) {
  const error = body && Array.isArray(body.errors) ? body.errors[0] : null;
  if (error && error.extensions && error.extensions.code) {
    return { code: error.extensions.code, message: error.message, extensions: error.extensions };
  }
  return body && body.code ? body : { code: `HTTP_${status}`, message: `HTTP ${status}` };
}

export async function signOut() {
  if (session.mode === "session") await adminApi("POST", "sign-out", {});
  forgetKey();
  session.linkKey = false;
  setToken(null);
  session.user = null;
  session.mode = null;
}
