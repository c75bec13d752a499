// design-system.html: renders token swatches and component examples from the real modules,
// so the gallery (and the screenshots in docs/design-system.md) can't drift from the surface.
import { h, kbd } from "./dom.js";
import { FpIcon, ICONS, icon } from "./components/fp-icon.js";
import { FpPopover } from "./components/fp-popover.js";
import { FpToaster } from "./components/fp-toaster.js";
import { emptyState, skeleton } from "./components/ui.js";
import { applyTheme } from "./bridge.js";
import { renderMarkdown } from "./markdown.js";
import { FpTaskLane } from "./views/task-lane.js";
import { SessionStore } from "./session-store.js";
import { FpNotePreview } from "./views/note-preview.js";
import { decorateMarkers } from "./views/chat.js";

for (const element of [FpIcon, FpPopover, FpToaster, FpNotePreview]) element.define();
FpTaskLane.defineAll();
const $ = (id) => document.getElementById(id);

const COLORS = [
  "bg",
  "surface",
  "surface-sunken",
  "surface-raised",
  "surface-hover",
  "surface-selected",
  "border",
  "border-strong",
  "text",
  "text-muted",
  "text-subtle",
  "accent",
  "accent-hover",
  "accent-soft",
  "accent-text",
  "focus",
  "success",
  "success-soft",
  "warning",
  "warning-soft",
  "danger",
  "danger-soft",
  "info",
  "info-soft",
];
$("swatches").append(
  ...COLORS.map((name) => {
    const chip = h("div", { class: "gallery__chip" });
    chip.style.background = `var(--fp-color-${name})`;
    return h("div", { class: "gallery__swatch" }, chip, h("code", { text: `--fp-color-${name}` }));
  }),
);

for (const [size, sample] of [
  ["2xl", "Pick a session, or start a new one"],
  ["xl", "Outlook password prompts after M365 change"],
  ["lg", "What We Know"],
  ["md", "Outlook keeps prompting for a password on two laptops since this morning."],
  ["sm", "Contoso Dental · Updated 5 min ago"],
  ["xs", "PROBLEM"],
]) {
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

$("g-popover-body").append(
  emptyState({
    variant: "compact",
    icon: "script",
    title: "No pending draft templates",
    body: "Scripts you choose to templatize after a resolve wait here for review.",
  }),
);

const dialog = h(
  "dialog",
  { class: "fp-dialog", open: true, "aria-label": "Example dialog" },
  h(
    "form",
    { method: "dialog" },
    h(
      "header",
      { class: "fp-dialog__header" },
      h(
        "div",
        { class: "fp-dialog__heading" },
        h("h3", { class: "fp-dialog__title", text: "Escalate this session?" }),
        h("p", { class: "fp-dialog__subtitle", text: "FlowPilot drafts the escalation package; you review it before it is posted." }),
      ),
      h("button", { type: "button", class: "fp-icon-btn", "aria-label": "Close" }, icon("x")),
    ),
    h(
      "div",
      { class: "fp-dialog__body" },
      h(
        "div",
        { class: "fp-field" },
        h("label", { class: "fp-label", for: "g-reason", text: "Reason" }),
        h("input", { class: "fp-input", id: "g-reason", value: "Needs tenant admin access" }),
      ),
    ),
    h(
      "footer",
      { class: "fp-dialog__footer" },
      h("span", { class: "fp-dialog__footer-hint" }, kbd("mod", "↵"), " to confirm"),
      h("button", { type: "button", class: "fp-btn", text: "Cancel" }),
      h("button", { type: "button", class: "fp-btn fp-btn--primary", text: "Continue" }),
    ),
  ),
);
$("dialog-demo").append(dialog);

const toaster = document.querySelector("fp-toaster");
for (const [tone, title, message] of [
  ["info", "Check dismissed", "Print Spooler service status"],
  ["success", "Session started", "Outlook password prompts after M365 change"],
  ["warning", "Status not verified", "ConnectWise accepted the note but still reports In Progress."],
  ["danger", "Couldn't start the session", "problem_statement must not be empty"],
]) {
  toaster.show({ tone, title, message, timeout: 0 });
}
$("toast-demo").append(...toaster.querySelectorAll(".fp-toast")); // (the toaster keeps 4 at most)
toaster.show({
  tone: "warning",
  title: "Answer saved",
  timeout: 0,
  actions: [{ label: "Promote" }],
  message: "FlowPilot couldn't check what it tells us right now. You can add it to What We Know yourself.",
});
$("toast-demo").append(...toaster.querySelectorAll(".fp-toast"));

$("skeleton-demo").append(
  h("div", { class: "fp-card fp-card--flat" }, h("div", { class: "fp-card__body" }, skeleton({ lines: 3, title: true }))),
  h("div", { class: "fp-card fp-card--flat" }, h("div", { class: "fp-card__body" }, skeleton({ lines: 2, block: true }))),
);

$("empty-demo").append(
  h(
    "div",
    { class: "fp-card fp-card--flat" },
    emptyState({
      icon: "inbox",
      title: "No open sessions",
      body: "Start a session when you pick up a ticket.",
      actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm fp-btn--primary" }, icon("plus", "sm"), "New session")],
    }),
  ),
  h(
    "div",
    { class: "fp-card fp-card--flat" },
    h(
      "div",
      { class: "fp-card__body" },
      h("p", { class: "fp-lane-section__title gallery__spaced", text: "What We Know" }),
      emptyState({
        variant: "inline",
        title: "No facts yet",
        body: "Confirmed answers and check results collect here as you work the ticket.",
      }),
    ),
  ),
);

$("menu-demo").append(
  h(
    "div",
    { class: "fp-dialog fp-palette", role: "presentation" },
    h(
      "div",
      { class: "fp-palette__search" },
      icon("search"),
      h("span", { class: "fp-palette__input gallery__token", text: "outlook" }),
      kbd("Esc"),
    ),
    h(
      "ul",
      { class: "fp-menu fp-palette__list", role: "listbox", "aria-label": "Example results" },
      h("li", { class: "fp-menu__group fp-overline", role: "presentation", text: "Actions" }),
      h(
        "li",
        { class: "fp-menu__item", role: "option", "aria-selected": "true" },
        icon("plus"),
        h("span", { class: "fp-menu__label", text: "New session" }),
      ),
      h("li", { class: "fp-menu__group fp-overline", role: "presentation", text: "Sessions" }),
      h(
        "li",
        { class: "fp-menu__item", role: "option", "aria-selected": "false" },
        icon("message"),
        h("span", { class: "fp-menu__label", text: "Outlook password prompts after M365 change" }),
        h("span", { class: "fp-menu__meta", text: "#48213" }),
      ),
    ),
  ),
);

// The task lane with sample data (no server: writes would fail, rendering is what is shown).
const lane = h("fp-task-lane");
$("lane-demo").append(lane);
const store = new SessionStore("demo");
lane.attach(store);
const at = "2024-03-14T09:02:11Z";
const spooler = {
  id: "c1",
  kind: "check",
  text: "Print Spooler service status",
  status: "done",
  shell: "powershell",
  command: "Get-Service -Name Spooler | Select-Object Status, StartType, Name",
  output: "Status  StartType Name\n------  --------- ----\nRunning Automatic Spooler",
};
const queue = {
  id: "c2",
  kind: "check",
  text: "Jobs in the print queue",
  status: "open",
  shell: "powershell",
  command: "Get-Printer | ForEach-Object { Get-PrintJob -PrinterName $_.Name } | Format-Table -AutoSize",
};
store.setLane({
  questions: [
    {
      id: "q1",
      kind: "question",
      text: "Can other people print to the same printer?",
      status: "answered",
      answer: "Yes, everyone else prints fine",
    },
    { id: "q2", kind: "question", text: "Did it start after a Windows update?", status: "open" },
  ],
  checks: [queue, spooler],
  actions: [],
});
store.setFacts([
  {
    id: "f1",
    text: "Other people can print to the same printer.",
    origin: "question",
    source_ref: "q1",
    editable: false,
    created_at: at,
    updated_at: at,
  },
  {
    id: "f2",
    text: "The Print Spooler service on the affected PC is running.",
    origin: "check",
    source_ref: "c1",
    editable: false,
    created_at: at,
    updated_at: at,
  },
  {
    id: "f3",
    text: "User restarted WS-ACC-04 twice this morning",
    origin: "manual",
    source_ref: null,
    editable: true,
    created_at: at,
    updated_at: at,
  },
]);
lane.sections.facts.setPending({ id: "q3", kind: "question", text: "Is the printer showing any error on its panel?" }, true);
const earlierFix = {
  id: "x0",
  session_id: "demo",
  title: "Restart the Print Spooler on WS-ACC-04",
  root_cause: "The spooler looked stuck.",
  body: "Restart the Print Spooler service.",
  fact_ids: [],
  status: "superseded",
  superseded_by_id: "x1",
  user_decision: null,
  created_at: at,
};
const activeFix = {
  ...earlierFix,
  id: "x1",
  title: "Clear the stuck print queue",
  root_cause: "A corrupt job blocks the queue; the spooler itself is running.",
  body: "1. Stop the Print Spooler service.\n2. Delete the files in C:\\Windows\\System32\\spool\\PRINTERS.\n3. Start the spooler and print a test page.",
  fact_ids: ["f1", "f2"],
  status: "active",
  superseded_by_id: null,
};
store.setFix(activeFix, { history: [activeFix, earlierFix] });

// The resolution note preview, as GET …/resolution-note/preview answers it (sample data, no server).
const src = (kind, id, field = null) => ({ kind, id, field });
const note = [
  ["## Problem", [src("template", "problem")]],
  ["Printing stuck in queue - Accounting", [src("ticket", "demo", "summary")]],
  ["## What we confirmed", [src("template", "confirmed")]],
  ["- Other people can print to the same printer.", [src("fact", "f1")]],
  ["- The Print Spooler service on the affected PC is running.", [src("fact", "f2")]],
  ["## Root cause", [src("template", "root_cause")]],
  [activeFix.root_cause, [src("fix", "x1", "root_cause")]],
  ["## Resolution", [src("template", "resolution")]],
  [activeFix.title, [src("fix", "x1", "title")]],
  ["- Stop the Print Spooler service.", [src("fix", "x1", "body")]],
  ["- Start the spooler and print a test page.", [src("fix", "x1", "body")]],
];
const samplePreview = {
  kind: "resolution_note",
  session_id: "demo",
  state_version: 7,
  markdown: note.map(([text]) => text).join("\n"),
  lines: note.map(([text, sources], i) => ({ number: i + 1, text, sources })),
  etag: '"sample"',
};
store.setSession({
  id: "demo",
  title: "Printing stuck in queue",
  status: "open",
  ticket_ref: "48213",
  psa_provider: "connectwise",
  state_version: 7,
});
const resolveButton = h(
  "button",
  { type: "button", class: "fp-btn fp-btn--sm fp-btn--primary", id: "g-resolve" },
  icon("check-circle", "sm"),
  h("span", { text: "Resolve" }),
);
const notePreview = h("fp-note-preview");
$("resolve-demo").append(h("div", { class: "gallery__resolve-bar" }, resolveButton), notePreview);
resolveButton.addEventListener("click", () => notePreview.open(store, "resolution", resolveButton, { preview: samplePreview }));

const reply = h(
  "div",
  { class: "fp-message__body" },
  renderMarkdown(
    "The spooler is up, so look for a stuck job blocking the queue:\nCheck: Jobs in the print queue\n\nFirst: is it this one PC, or the printer itself?\nCan other people print to the same printer?\n\nNoted: The Print Spooler service is running.\n\nSuggested fix: Clear the stuck print queue",
  ),
);
decorateMarkers(reply, [
  { type: "check", title: "Jobs in the print queue", item_id: "c2" },
  { type: "question", text: "Can other people print to the same printer?", item_id: "q1" },
  { type: "promote", text: "The Print Spooler service is running." },
  { type: "suggest_fix", title: "Clear the stuck print queue" },
]);
$("chips-demo").append(
  h("p", { class: "fp-overline", text: "Markers in a reply" }),
  h(
    "div",
    { class: "fp-message fp-message--assistant" },
    h("div", { class: "fp-message__avatar", "aria-hidden": "true" }, icon("sparkle", "sm")),
    h("div", { class: "fp-message__main" }, reply),
  ),
  h("p", { class: "fp-overline", text: "A reply while it streams" }),
  h(
    "div",
    { class: "fp-message fp-message--assistant fp-message--streaming" },
    h("div", { class: "fp-message__avatar", "aria-hidden": "true" }, icon("sparkle", "sm")),
    h(
      "div",
      { class: "fp-message__main" },
      h(
        "div",
        { class: "fp-message__body" },
        h("p", { class: "fp-message__text fp-message__live", text: "The spooler is up, so look for a stuck job" }),
      ),
    ),
  ),
);

$("icon-demo").append(
  ...Object.keys(ICONS)
    .concat("logo")
    .map((name) => h("div", { class: "gallery__icon" }, icon(name, "lg"), h("span", { text: name }))),
);

const themeButtons = document.querySelectorAll("[data-theme-choice]");
function setTheme(choice) {
  applyTheme(choice);
  for (const b of themeButtons) b.setAttribute("aria-pressed", String(b.dataset.themeChoice === choice));
}
for (const b of themeButtons) b.addEventListener("click", () => setTheme(b.dataset.themeChoice));
setTheme(new URLSearchParams(location.search).get("theme") || "auto");
// Open the example popover once it is laid out, so screenshots show it.
requestAnimationFrame(() => {
  const p = $("g-popover");
  p.showPopover();
  p.position();
  resolveButton.click();
  notePreview.querySelector(".fp-preview__line[data-line='4']")?.focus({ preventScroll: true });
});
