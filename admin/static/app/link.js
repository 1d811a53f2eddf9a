// The demo link `hub serve` prints, /admin#key=hub_…, signs this tab in with that API key (as the
// GraphiQL link does): the key moves from the address bar (and the history entry) to sessionStorage,
// this tab only, and goes out as X-API-Key. Evaluated before the router reads the address.
export const KEY_STORAGE = "hub.console.apiKey";

const match = window.location.hash.match(/^#key=([^&]+)/);
if (match) {
  sessionStorage.setItem(KEY_STORAGE, decodeURIComponent(match[1]));
  history.replaceState(null, "", window.location.pathname + window.location.search + "#/");
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}
