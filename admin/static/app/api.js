// A tiny GraphQL client for the console: same-origin fetch (the session cookie goes along), the CSRF
// token on every POST made with a session, and errors turned into ApiError (stable code, the field
// the API names in extensions.field, a Chinese message by code). When a signed-in session has ended
// (idle or absolute timeout, signed out elsewhere), the request waits: the sign-in form shows over the
// page, which stays as it was (a form half filled in included), and once the user is back the request
// is sent again, with the new session's CSRF token; the caller sees only its answer.
import { session, signedInAgain } from "./session.js";
import { t } from "./i18n.js";
import { storedKey } from "./link.js";

export class ApiError extends Error {
  constructor({ code, message, field, status, suggestion }) {
    super(message);
    this.code = code || "INTERNAL";
    this.field = field || null;
    this.status = status || 200;
    this.suggestion = suggestion || null;
    this.serverMessage = message;
  }
  /** The message to show: the code's translation, then the API's own words (which name the value). */
  get shown() {
    const known = t(`errors.${this.code}`);
    return known === `errors.${this.code}` ? this.serverMessage : `${known}：${this.serverMessage}`;
  }
}

/** Field names the API uses in extensions.field that a form calls otherwise. */
const FIELD_ALIASES = { toRegion: "toRegionCode" };

function toApiError(err, status) {
  const ext = err.extensions || {};
  const field = ext.field ? FIELD_ALIASES[ext.field] || ext.field : null;
  return new ApiError({ code: ext.code, message: err.message, field, status, suggestion: ext.suggestion });
}

/** Codes of a refusal that a new sign-in cures. */
const SIGNED_OUT = new Set(["UNAUTHENTICATED", "SESSION_EXPIRED"]);

export async function gql(query, variables = {}) {
  try {
    return await send(query, variables);
  } catch (error) {
    if (!SIGNED_OUT.has(error.code) || session.mode !== "session") throw error;
    session.expired();
    await signedInAgain();
    return send(query, variables);
  }
}

async function send(query, variables) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  if (session.csrfToken) headers["x-csrf-token"] = session.csrfToken;
  const key = storedKey();
  if (key) headers["x-api-key"] = key;
  let resp;
  try {
    resp = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError({ code: "NETWORK", message: String(e) });
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    throw new ApiError({ code: "BAD_RESPONSE", message: `HTTP ${resp.status}`, status: resp.status });
  }
  if (body.errors && body.errors.length) {
    const error = toApiError(body.errors[0], resp.status);
    error.all = body.errors.map((e) => toApiError(e, resp.status));
    error.data = body.data;
    throw error;
  }
  return body.data;
}

/** JSON to and from the sign-in endpoints (/admin/api/…); resolves to {status, body}. */
export async function adminApi(method, path, payload) {
  const headers = { accept: "application/json" };
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (session.csrfToken && method !== "GET") headers["x-csrf-token"] = session.csrfToken;
  const resp = await fetch(`/admin/api/${path}`, {
    method,
    credentials: "same-origin",
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    body = null;
  }
  return { status: resp.status, body };
}
