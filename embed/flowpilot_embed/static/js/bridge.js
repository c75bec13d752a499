// The surface's side of the embed protocol, and where the bearer token comes from.
//
// Standalone (/pilot opened in a tab): the token arrives once in the URL fragment (#token=…,
// never sent to the server), is kept in sessionStorage, and the fragment is removed at once.
//
// Embedded (/pilot?embed=1 in the iframe embed.js creates): the token arrives ONLY by postMessage
// from window.parent. Trust model (docs/design-system.md, "Embedding"):
//   * a message is considered only if event.source === window.parent;
//   * the first accepted message must be a `token` message; its event.origin becomes the host
//     origin, and from then on only messages from that origin are accepted;
//   * the server's CSP frame-ancestors (the account's allowed origins, from ?account=) is what
//     limits which pages can be that parent at all;
//   * everything the surface posts to the host goes to that exact origin, except the initial
//     `hello`, which carries no data and must go out before the host origin is known.

export const PROTOCOL = "flowpilot";
const TOKEN_KEY = "flowpilot.token";
const TOKEN_WAIT_MS = 15000;

const params = new URLSearchParams(location.search);
export const embedded = params.get("embed") === "1" && window.parent !== window;
export const displayMode = params.get("display") === "sidebar" ? "sidebar" : "inline";

let token = null;
let hostOrigin = null;
let tokenWaiters = [];
let hostContext = {};
const events = new EventTarget();

/** Subscribe to bridge events: "token", "theme", "context", "unauthorized". Returns an unsubscribe fn. */
export function on(type, callback) {
  const listener = (event) => callback(event.detail);
  events.addEventListener(type, listener);
  return () => events.removeEventListener(type, listener);
}
const fire = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));

/** Decode a JWT payload without verifying it (the server verifies). Null when it is not a JWT. */
export function decodeJwt(jwt) {
  try {
    const part = String(jwt).split(".")[1];
    const json = atob(
      part
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(part.length / 4) * 4, "="),
    );
    return JSON.parse(decodeURIComponent(Array.from(json, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("")));
  } catch {
    return null;
  }
}

export function claims() {
  return token ? decodeJwt(token) : null;
}

/** The ticket this surface was opened on: the signed token's claim wins over the host's mount option. */
export function ticketContext() {
  const fromToken = claims()?.ticket;
  if (fromToken && typeof fromToken === "object") return fromToken;
  return hostContext.ticket && typeof hostContext.ticket === "object" ? hostContext.ticket : null;
}

function setToken(value) {
  token = value;
  const waiters = tokenWaiters;
  tokenWaiters = [];
  for (const resolve of waiters) resolve(value);
  fire("token", value);
}

/** The current token, waiting (embedded) for the host to hand one over. Null when there is none. */
export function currentToken() {
  if (token || !embedded) return Promise.resolve(token);
  return waitForToken();
}

function waitForToken() {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      tokenWaiters = tokenWaiters.filter((w) => w !== done);
      resolve(null);
    }, TOKEN_WAIT_MS);
    const done = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    tokenWaiters.push(done);
  });
}

/**
 * The server refused the token (401). Embedded: ask the host for a fresh one (the loader calls the
 * host's getToken()) and resolve with it, or null if none comes. Standalone: forget it, resolve null.
 */
export function refreshToken(reason = "expired") {
  if (!embedded) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    fire("unauthorized", { reason });
    return Promise.resolve(null);
  }
  const stale = token;
  token = null;
  postToHost("token-request", { reason });
  return waitForToken().then((fresh) => {
    if (!fresh || fresh === stale) {
      fire("unauthorized", { reason });
      return null;
    }
    return fresh;
  });
}

/** Post an event to the host page (embedded only, and only once the host origin is known). */
export function postToHost(type, detail = {}) {
  if (!embedded || !hostOrigin) return false;
  window.parent.postMessage({ protocol: PROTOCOL, type, ...detail }, hostOrigin);
  return true;
}

/** Apply "light" | "dark" | "auto" to <html data-theme>. */
export function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  else delete root.dataset.theme;
  fire("theme", root.dataset.theme || "auto");
}

function onMessage(event) {
  if (event.source !== window.parent) return;
  if (hostOrigin !== null && event.origin !== hostOrigin) return;
  const data = event.data;
  if (!data || typeof data !== "object" || data.protocol !== PROTOCOL) return;
  if (hostOrigin === null) {
    if (data.type !== "token" || typeof data.token !== "string" || !data.token) return;
    hostOrigin = event.origin;
  }
  switch (data.type) {
    case "token":
      if (typeof data.token === "string" && data.token) setToken(data.token);
      break;
    case "theme":
      applyTheme(data.theme);
      break;
    case "context":
      hostContext = { ...hostContext, ticket: data.ticket ?? hostContext.ticket };
      fire("context", hostContext);
      break;
    default:
      break;
  }
}

/** Start the bridge: read the standalone token, or greet the host and wait for one. */
export function start() {
  applyTheme(params.get("theme"));
  if (embedded) {
    window.addEventListener("message", onMessage);
    window.parent.postMessage({ protocol: PROTOCOL, type: "hello" }, "*");
    return;
  }
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromFragment = fragment.get("token");
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  }
  token = sessionStorage.getItem(TOKEN_KEY);
}

/** Forget the standalone token (sign out of this tab). */
export function forgetToken() {
  token = null;
  if (!embedded) sessionStorage.removeItem(TOKEN_KEY);
}
