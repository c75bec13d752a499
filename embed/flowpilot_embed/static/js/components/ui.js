// Builders for the stateless components (empty state, skeleton, badges, dialogs).
// Each returns DOM nodes; class names are documented in docs/design-system.md.
import { h } from "../dom.js";
import { icon } from "./fp-icon.js";

/**
 * emptyState({icon, title, body, actions, variant}) — variant: undefined (panel), "page" (a whole
 * view), "compact" (icon beside text, in popovers and cards) or "inline" (text only, in lane sections).
 */
export function emptyState({ icon: iconName = "inbox", title, body, actions = [], variant } = {}) {
  const text = [title && h("p", { class: "fp-empty__title", text: title }), body && h("p", { class: "fp-empty__body", text: body })];
  return h(
    "div",
    { class: `fp-empty${variant ? ` fp-empty--${variant}` : ""}`, "data-empty": "" },
    variant !== "inline" &&
      h("div", { class: "fp-empty__icon" }, icon(iconName, variant === "page" ? "xl" : variant === "compact" ? "sm" : "lg")),
    variant === "compact" || variant === "inline" ? h("div", { class: "fp-empty__text" }, text) : text,
    actions.length > 0 && h("div", { class: "fp-empty__actions" }, actions),
  );
}

/** A loading placeholder: `lines` text lines, optionally led by a title bar. */
export function skeleton({ lines = 3, title = false, block = false } = {}) {
  return h(
    "div",
    { class: "fp-skeleton-group", "aria-hidden": "true", "data-loading": "" },
    title && h("span", { class: "fp-skeleton fp-skeleton--title fp-skeleton--line" }),
    block && h("span", { class: "fp-skeleton fp-skeleton--block fp-skeleton--line" }),
    Array.from({ length: lines }, (_, i) =>
      h("span", { class: `fp-skeleton fp-skeleton--line${i === lines - 1 ? " fp-skeleton--short" : ""}` }),
    ),
  );
}

const STATUS = {
  open: { tone: "accent", label: "Open" },
  resolved: { tone: "success", label: "Resolved" },
  escalated: { tone: "warning", label: "Escalated" },
};

export function statusBadge(status) {
  const s = STATUS[status] || { tone: "neutral", label: String(status || "Unknown") };
  return h("span", { class: `fp-badge fp-badge--dot fp-badge--${s.tone}`, "data-status": status || "", text: s.label });
}

const PROVIDERS = {
  connectwise: "ConnectWise",
  autotask: "Autotask",
  halopsa: "HaloPSA",
  halo: "HaloPSA",
  syncro: "Syncro",
  freshservice: "Freshservice",
  local: "",
};

/** "ConnectWise" for "connectwise"; unknown providers are shown as given. */
export function providerLabel(provider) {
  if (!provider) return "";
  const key = String(provider).toLowerCase();
  return key in PROVIDERS ? PROVIDERS[key] : String(provider);
}

/** "ConnectWise ticket #48213" (or "ticket #48213" without a provider). */
export function ticketLabel(provider, ref) {
  const label = providerLabel(provider);
  return `${label ? `${label} ` : ""}ticket #${ref}`;
}

export function ticketBadge(session) {
  const ref = session?.ticket_ref;
  if (!ref) return null;
  const provider = providerLabel(session.psa_provider) ? `${providerLabel(session.psa_provider)} ` : "";
  return h(
    "span",
    { class: "fp-badge fp-badge--outline fp-badge--mono", title: `${provider}ticket ${ref}` },
    icon("ticket", "sm"),
    h("span", { class: "fp-badge__text", text: `#${ref}` }),
  );
}

/** Open a native <dialog> modally; resolves with its returnValue when it closes. */
export function runDialog(dialog) {
  if (!dialog.isConnected) document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
  });
}
