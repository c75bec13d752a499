// Tiny DOM builder. Strings become Text nodes, never markup: this module is the reason the
// surface needs no innerHTML. `on*` keys add listeners (not attributes, so CSP stays strict).

/**
 * h("button", {class: "fp-btn", type: "button", onclick: fn}, "Label", iconEl)
 * Attribute values: true → empty attribute, false/null/undefined → omitted.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, arrays; null/false skipped). Strings are text. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replace all children of `parent` (same rules as append: null/false skipped, strings are text). */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let uid = 0;
/** A document-unique id for ARIA relationships. */
export const uniqueId = (prefix = "fp") => `${prefix}-${++uid}`;

/** "3 min ago", "yesterday", "12 Mar" — compact times for lists. */
export function relativeTime(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return new Date(then).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

export function absoluteTime(iso) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? "" : new Date(then).toLocaleString();
}

/** Cmd on Apple platforms, Ctrl elsewhere, for labels like "⌘K" / "Ctrl K". */
export const IS_APPLE = /Mac|iPhone|iPad|iPod/.test(navigator.platform || navigator.userAgent);
export const MOD_LABEL = IS_APPLE ? "⌘" : "Ctrl";

/** <kbd class="fp-kbd"> for a shortcut such as ("mod", "K"). */
export function kbd(...keys) {
  return h("kbd", { class: "fp-kbd" }, keys.map((k) => (k === "mod" ? MOD_LABEL : k)).join(IS_APPLE ? "" : " "));
}
