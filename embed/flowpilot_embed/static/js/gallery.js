// design-system.html: renders token swatches and component examples from the real modules,
// so the gallery (and the screenshots in docs/design-system.md) can't drift from the surface.
import { h, kbd } from "./dom.js";
import { FpIcon, ICONS, icon } from "./components/fp-icon.js";
import { FpPopover } from "./components/fp-popover.js";
import { FpToaster } from "./components/fp-toaster.js";
import { emptyState, skeleton } from "./components/ui.js";
import { applyTheme } from "./bridge.js";

[FpIcon, FpPopover, FpToaster].forEach((c) => c.define());
const $ = (id) => document.getElementById(id);

const COLORS = [
  "bg", "surface", "surface-sunken", "surface-raised", "surface-hover", "surface-selected", "border", "border-strong",
  "text", "text-muted", "text-subtle", "accent", "accent-hover", "accent-soft", "accent-text", "focus",
  "success", "success-soft", "warning", "warning-soft", "danger", "danger-soft", "info", "info-soft",
];
$("swatches").append(...COLORS.map((name) => {
  const chip = h("div", { class: "gallery__chip" });
  chip.style.background = `var(--fp-color-${name})`;
  return h("div", { class: "gallery__swatch" }, chip, h("code", { text: `--fp-color-${name}` }));
}));

for (const [size, sample] of [["2xl", "Pick a session, or start a new one"], ["xl", "Outlook password prompts after M365 change"],
  ["lg", "What We Know"], ["md", "Outlook keeps prompting for a password on two laptops since this morning."],
  ["sm", "Contoso Dental · Updated 5 min ago"], ["xs", "PROBLEM"]]) {
  const text = h("span", { text: sample });
  text.style.fontSize = `var(--fp-text-${size})`;
  $("type-scale").append(h("div", { class: "gallery__type" }, h("code", { class: "gallery__token", text: `--fp-text-${size}` }), text));
}

for (let i = 1; i <= 9; i += 1) {
  const bar = h("span", { class: "gallery__space-bar" });
  bar.style.width = `var(--fp-space-${i})`;
  $("spacing-scale").append(h("div", { class: "gallery__space" }, bar, h("code", { class: "gallery__token", text: `space-${i}` })));
}
for (const r of ["sm", "md", "lg", "xl", "full"]) {
  const el = h("div", { class: "gallery__radius", text: `radius-${r}` });
  el.style.borderRadius = `var(--fp-radius-${r})`;
  $("radius-scale").append(el);
}
for (const e of ["1", "2", "3"]) {
  const el = h("div", { class: "gallery__elev", text: `shadow-${e}` });
  el.style.boxShadow = `var(--fp-shadow-${e})`;
  el.style.borderRadius = "var(--fp-radius-md)";
  $("elevation-scale").append(el);
}

$("g-popover-body").append(emptyState({ variant: "compact", icon: "script", title: "No pending draft templates",
  body: "Scripts you choose to templatize after a resolve wait here for review." }));

const dialog = h("dialog", { class: "fp-dialog", open: true, "aria-label": "Example dialog" },
  h("form", { method: "dialog" },
    h("header", { class: "fp-dialog__header" },
      h("div", { class: "fp-dialog__heading" }, h("h3", { class: "fp-dialog__title", text: "Escalate this session?" }),
        h("p", { class: "fp-dialog__subtitle", text: "FlowPilot drafts the escalation package; you review it before it is posted." })),
      h("button", { type: "button", class: "fp-icon-btn", "aria-label": "Close" }, icon("x"))),
    h("div", { class: "fp-dialog__body" }, h("div", { class: "fp-field" },
      h("label", { class: "fp-label", for: "g-reason", text: "Reason" }), h("input", { class: "fp-input", id: "g-reason", value: "Needs tenant admin access" }))),
    h("footer", { class: "fp-dialog__footer" }, h("span", { class: "fp-dialog__footer-hint" }, kbd("mod", "↵"), " to confirm"),
      h("button", { type: "button", class: "fp-btn", text: "Cancel" }), h("button", { type: "button", class: "fp-btn fp-btn--primary", text: "Continue" }))));
$("dialog-demo").append(dialog);

const toaster = document.querySelector("fp-toaster");
for (const [tone, title, message] of [["info", "Chat isn't available yet", "This FlowPilot server doesn't answer messages yet."],
  ["success", "Session started", "Outlook password prompts after M365 change"],
  ["warning", "Status not verified", "ConnectWise accepted the note but still reports In Progress."],
  ["danger", "Couldn't start the session", "problem_statement must not be empty"]]) {
  toaster.show({ tone, title, message, timeout: 0 });
}
$("toast-demo").append(...toaster.querySelectorAll(".fp-toast"));

$("skeleton-demo").append(
  h("div", { class: "fp-card fp-card--flat" }, h("div", { class: "fp-card__body" }, skeleton({ lines: 3, title: true }))),
  h("div", { class: "fp-card fp-card--flat" }, h("div", { class: "fp-card__body" }, skeleton({ lines: 2, block: true }))));

$("empty-demo").append(
  h("div", { class: "fp-card fp-card--flat" }, emptyState({ icon: "inbox", title: "No open sessions",
    body: "Start a session when you pick up a ticket.", actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm fp-btn--primary" }, icon("plus", "sm"), "New session")] })),
  h("div", { class: "fp-card fp-card--flat" }, h("div", { class: "fp-card__body" },
    h("p", { class: "fp-lane-section__title gallery__spaced", text: "What We Know" }),
    emptyState({ variant: "inline", title: "No facts yet", body: "Confirmed answers and check results collect here as you work the ticket." }))));

$("menu-demo").append(h("div", { class: "fp-dialog fp-palette", role: "presentation" },
  h("div", { class: "fp-palette__search" }, icon("search"), h("span", { class: "fp-palette__input gallery__token", text: "outlook" }), kbd("Esc")),
  h("ul", { class: "fp-menu fp-palette__list", role: "listbox", "aria-label": "Example results" },
    h("li", { class: "fp-menu__group fp-overline", text: "Actions" }),
    h("li", { class: "fp-menu__item", role: "option", "aria-selected": "true" }, icon("plus"), h("span", { class: "fp-menu__label", text: "New session" })),
    h("li", { class: "fp-menu__group fp-overline", text: "Sessions" }),
    h("li", { class: "fp-menu__item", role: "option", "aria-selected": "false" }, icon("message"), h("span", { class: "fp-menu__label", text: "Outlook password prompts after M365 change" }), h("span", { class: "fp-menu__meta", text: "#48213" })))));

$("icon-demo").append(...Object.keys(ICONS).concat("logo").map((name) => h("div", { class: "gallery__icon" }, icon(name, "lg"), h("span", { text: name }))));

const themeButtons = document.querySelectorAll("[data-theme-choice]");
function setTheme(choice) {
  applyTheme(choice);
  themeButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.themeChoice === choice)));
}
themeButtons.forEach((b) => b.addEventListener("click", () => setTheme(b.dataset.themeChoice)));
setTheme(new URLSearchParams(location.search).get("theme") || "auto");
// Open the example popover once it is laid out, so screenshots show it.
requestAnimationFrame(() => { const p = $("g-popover"); p.showPopover(); p.position(); });
