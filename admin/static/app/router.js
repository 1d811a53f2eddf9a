// A hash router: #/clues?status=RECEIVED&colour=RED → {path: "/clues", query: {...}}. Bookmarkable,
// needs no server route but /admin, and keeps the back button working.
import { reactive } from "vue";

function parse() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  const query = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  return { path: path || "/", query };
}

export const route = reactive(parse());

window.addEventListener("hashchange", () => Object.assign(route, parse()));

/** The href for a path and query (empty values left out). */
export function href(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && !v.length)) params.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

export function navigate(path, query = {}) {
  window.location.hash = href(path, query).slice(1);
}
