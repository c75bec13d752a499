// The /pilot surface: boots auth (bridge.js), wires the shell, routes /pilot and /pilot/{id},
// owns the keyboard shortcuts and the host events. Views live in views/*, components in components/*.
import { api } from "./api.js";
import * as bridge from "./bridge.js";
import { h, kbd, replace, IS_APPLE, MOD_LABEL } from "./dom.js";
import { FpIcon, icon } from "./components/fp-icon.js";
import { FpToaster, toast } from "./components/fp-toaster.js";
import { FpPopover } from "./components/fp-popover.js";
import { FpPalette, FlowPilotPalette, registerCommand, registerProvider, unregisterCommand } from "./components/fp-palette.js";
import { emptyState } from "./components/ui.js";
import { FpSessionList, sessionHref } from "./views/session-list.js";
import { FpSessionView } from "./views/session-view.js";
import { FpTaskLane } from "./views/task-lane.js";
import { FpChat } from "./views/chat.js";
import { newSessionDialog } from "./views/new-session.js";
import { FpUsageView, USAGE_PATH, usageHref } from "./views/usage-view.js";
import { FpScriptLibrary, SCRIPTS_PATH, scriptsHref } from "./views/script-library.js";
import { refreshDrafts } from "./views/drafts-popover.js";

FpTaskLane.defineAll(); // the lane, its sections and items (before fp-session-view, which renders them)
for (const element of [FpIcon, FpToaster, FpPopover, FpPalette, FpSessionList, FpChat, FpSessionView, FpUsageView, FpScriptLibrary])
  element.define();
window.FlowPilotPalette = FlowPilotPalette;

const $ = (id) => document.getElementById(id);
const app = $("fp-app");
const list = $("fp-session-list");
const view = $("fp-session-view");
const home = $("fp-home-view");
const usage = $("fp-usage-view");
const library = $("fp-script-library");
const palette = $("fp-palette");

const state = { me: null, statuses: new Map() };

// ---- Routing ---------------------------------------------------------------------------
// /pilot (home), /pilot/usage (the usage dashboard), /pilot/scripts (the script library), /pilot/{session id}.
const onUsagePage = () => location.pathname.replace(/\/$/, "") === USAGE_PATH;
const onScriptsPage = () => location.pathname.replace(/\/$/, "") === SCRIPTS_PATH;

function routeId() {
  const match = location.pathname.match(/^\/pilot\/([^/]+)\/?$/);
  return match && !onUsagePage() && !onScriptsPage() ? decodeURIComponent(match[1]) : null;
}

/** Go to a session (`id`), the usage dashboard (`"usage"`), the script library (`"scripts"`) or home (`null`). */
export function navigate(id, { templateId = null } = {}) {
  const url = id === "usage" ? usageHref() : id === "scripts" ? scriptsHref() : id ? sessionHref(id) : `/pilot${location.search}`;
  // Embedded, the iframe's history entries would hijack the host's Back button: replace instead.
  if (bridge.embedded) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route({ templateId });
}

async function route({ templateId = null } = {}) {
  const id = routeId();
  const dashboard = !id && onUsagePage();
  const scripts = !id && onScriptsPage();
  app.dataset.view = id ? "session" : dashboard ? "usage" : scripts ? "scripts" : "list";
  list.select(id);
  usage.hidden = !dashboard;
  library.hidden = !scripts;
  if (!id) {
    view.hidden = true;
    home.hidden = dashboard || scripts;
    document.title = dashboard ? "Usage & cost · FlowPilot" : scripts ? "Script library · FlowPilot" : "FlowPilot";
    if (dashboard) usage.show();
    else if (scripts) library.show({ templateId });
    else renderHome();
    return;
  }
  home.hidden = true;
  view.hidden = false;
  const session = await view.show(id);
  if (session) {
    document.title = `${session.title || "Session"} · FlowPilot`;
    noteStatus(session);
  }
}

function renderHome() {
  const ticket = bridge.ticketContext();
  const start = h(
    "button",
    { type: "button", class: "fp-btn fp-btn--primary", "data-action": "new-session", onclick: () => startSession() },
    icon("plus"),
    ticket?.ref ? `Start a session for ticket #${ticket.ref}` : "New session",
  );
  home.replaceChildren(
    emptyState({
      variant: "page",
      icon: "sparkle",
      title: ticket?.ref ? `Troubleshoot ticket #${ticket.ref} with FlowPilot` : "Pick a session, or start a new one",
      body: "FlowPilot asks the questions, proposes the checks and keeps what you confirm in What We Know, so the resolution note writes itself.",
      actions: [start],
    }),
    h(
      "dl",
      { class: "fp-home__shortcuts", "aria-label": "Keyboard shortcuts" },
      shortcutRow([kbd("mod", "K")], "Command palette: jump to a session, start one"),
      shortcutRow([kbd("mod", "↵")], "Send the message in the composer"),
      shortcutRow([kbd("mod", "G")], "Generate a script for the session's suggested fix"),
      shortcutRow([kbd("Esc")], "Close a dialog or the task lane drawer"),
    ),
  );
}

const shortcutRow = (keys, label) => h("div", {}, h("dt", {}, keys), h("dd", { text: label }));

// ---- Sessions --------------------------------------------------------------------------
async function startSession(problem = "") {
  const session = await newSessionDialog({ ticket: bridge.ticketContext(), problem });
  if (!session) return;
  toast({ tone: "success", title: "Session started", message: session.title || "FlowPilot is ready." });
  bridge.postToHost("session-created", { session: publicSession(session) });
  if (list.filter !== "open") list.setFilter("open");
  else list.reload();
  navigate(session.id);
  requestAnimationFrame(() => view.chat?.focusComposer());
}

const publicSession = (s) => ({ id: s.id, title: s.title, status: s.status, ticket_ref: s.ticket_ref, psa_provider: s.psa_provider });

/** Tell the host when a session this surface has seen becomes resolved or escalated. */
function noteStatus(session) {
  const before = state.statuses.get(session.id);
  state.statuses.set(session.id, session.status);
  if (before && before !== session.status && (session.status === "resolved" || session.status === "escalated")) {
    bridge.postToHost(session.status, { session: publicSession(session) });
  }
}

// ---- Shell -----------------------------------------------------------------------------
function initials(name) {
  const parts = String(name || "")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2)).toUpperCase();
}

function renderIdentity(me) {
  // Usage and cost are the MSP admin's (an API key, or an embed token minted with role admin).
  const isAdmin = me.role === "admin";
  if (isAdmin) {
    registerCommand({
      id: "usage",
      title: "Usage & cost",
      icon: "chart",
      keywords: "cost tokens cache spend dashboard notes",
      run: () => navigate("usage"),
    });
  } else {
    unregisterCommand("usage");
  }
  const user = me.user;
  const name = user?.display_name || user?.email || user?.external_id || (me.auth === "api_key" ? "API key" : "Technician");
  $("fp-account-name").textContent = me.account?.name || "";
  $("fp-user-initials").textContent = initials(name);
  // The name includes the initials the button shows, so speech input ("click DT") finds it too.
  $("fp-user-trigger").setAttribute("aria-label", `Account: ${name}, ${initials(name)}`);
  replace(
    $("fp-user-card"),
    h("div", { class: "fp-user-card__name", text: name }),
    user?.email && h("div", { class: "fp-user-card__line", text: user.email }),
    h("div", { class: "fp-user-card__line" }, icon("user", "sm"), h("span", { text: me.account?.name || "" })),
    isAdmin &&
      h(
        "a",
        {
          class: "fp-user-card__line fp-user-card__link",
          href: usageHref(),
          "data-action": "usage",
          onclick: (event) => {
            if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
            event.preventDefault();
            $("fp-user-popover").hidePopover?.();
            navigate("usage");
          },
        },
        icon("chart", "sm"),
        h("span", { text: "Usage & cost" }),
      ),
    h("div", {
      class: "fp-user-card__line fp-user-card__auth",
      text: me.auth === "api_key" ? "Signed in with an API key" : "Signed in from your portal",
    }),
    !bridge.embedded &&
      h("button", {
        type: "button",
        class: "fp-btn fp-btn--sm fp-btn--block",
        text: "Sign out of this tab",
        onclick: () => {
          bridge.forgetToken();
          renderSignedOut("signed-out");
        },
      }),
  );
}

/** The topbar's pending-drafts badge and popover (views/drafts-popover.js). */
function renderDrafts() {
  if (app.dataset.state !== "ready") return;
  refreshDrafts({
    badge: $("fp-drafts-count"),
    body: $("fp-drafts-body"),
    trigger: $("fp-drafts-trigger"),
    popover: $("fp-drafts-popover"),
    open: (id) => navigate(id),
  });
}

function renderSignedOut(reason) {
  app.dataset.state = "signed-out";
  const waiting = reason === "waiting";
  const body =
    {
      "signed-out": "You signed out of this tab. Open FlowPilot again from your PSA or portal.",
      waiting: "Waiting for your portal to sign you in…",
      "no-token": bridge.embedded
        ? "Your portal didn't hand FlowPilot a sign-in token. Reload the page; if it keeps happening, tell your administrator."
        : "This link has no sign-in token, or it has expired. Open FlowPilot from your PSA or portal to sign in.",
      expired: "Your FlowPilot sign-in has expired. Open FlowPilot again from your PSA or portal.",
    }[reason] || "Open FlowPilot from your PSA or portal to sign in.";
  $("fp-main").replaceChildren(
    emptyState({ variant: "page", icon: waiting ? "clock" : "lock", title: waiting ? "Connecting…" : "Sign in from your portal", body }),
  );
}

function initShortcuts() {
  // Only Cmd/Ctrl+K is handled here; browser shortcuts (Ctrl/Cmd+R, L, T, W, F…)
  // are never intercepted. Cmd/Ctrl+Enter is handled by the composer and dialogs themselves.
  window.addEventListener("keydown", (event) => {
    const mod = IS_APPLE ? event.metaKey && !event.ctrlKey : event.ctrlKey && !event.metaKey;
    if (!mod || event.altKey || event.shiftKey || event.repeat || event.isComposing) return;
    if (event.key.toLowerCase() === "k") {
      event.preventDefault();
      palette.toggle();
    }
    // Cmd/Ctrl+G: the inline script generator, only where a session with a suggested fix is shown.
    if (event.key.toLowerCase() === "g" && !view.hidden && view.store?.fix && view.session?.status === "open") {
      event.preventDefault();
      view.openScriptGenerator();
    }
  });
}

function initPalette() {
  $("fp-palette-kbd").textContent = IS_APPLE ? "⌘K" : `${MOD_LABEL} K`;
  $("fp-palette-trigger").addEventListener("click", () => palette.open());
  registerCommand({ id: "new-session", title: "New session", icon: "plus", keywords: "start create ticket", run: () => startSession() });
  registerCommand({ id: "all-sessions", title: "Go to session list", icon: "inbox", keywords: "home sessions", run: () => navigate(null) });
  registerCommand({
    id: "script",
    title: "Generate a script for the suggested fix",
    icon: "script",
    keywords: "script template generator powershell bash",
    when: () => !view.hidden && view.store?.fix && view.session?.status === "open",
    run: () => view.openScriptGenerator(),
  });
  registerCommand({
    id: "script-library",
    title: "Script library",
    icon: "script",
    keywords: "scripts templates drafts library",
    run: () => navigate("scripts"),
  });
  registerCommand({
    id: "task-lane",
    title: "Show task lane",
    icon: "panel-bottom",
    keywords: "facts questions checks drawer",
    when: () => !view.hidden && view.drawerMode && view.session,
    run: () => view.openDrawer(),
  });
  registerCommand({
    id: "toggle-theme",
    title: "Switch light / dark theme",
    icon: "moon",
    keywords: "dark light theme appearance",
    run: () => {
      const dark =
        document.documentElement.dataset.theme === "dark" ||
        (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
      bridge.applyTheme(dark ? "light" : "dark");
    },
  });
  // "Go to session": the loaded list first, then a server search for the typed text.
  registerProvider(async (query, signal) => {
    let sessions = list.sessions;
    if (query) {
      const params = new URLSearchParams({ q: query, limit: "8" });
      const data = await api(`/api/v1/ai-sessions?${params}`, { signal }).catch(() => null);
      // Offline or failing: search the sessions already listed instead.
      sessions = data
        ? data.items
        : sessions.filter((s) => `${s.title} ${s.problem_statement}`.toLowerCase().includes(query.toLowerCase()));
    }
    return sessions.slice(0, 8).map((s) => ({
      id: `session:${s.id}`,
      group: "Sessions",
      icon: s.status === "open" ? "message" : s.status === "resolved" ? "check-circle" : "escalate",
      title: s.title || s.problem_statement || "Untitled session",
      meta: s.ticket_ref ? `#${s.ticket_ref}` : s.status,
      run: () => navigate(s.id),
    }));
  });
}

function initLayoutObservers() {
  // Keep the app (and so the composer) inside the visible viewport when an on-screen keyboard
  // opens: iOS shrinks only the visual viewport. Ignored while the user pinch-zooms.
  const vv = window.visualViewport;
  const root = document.documentElement;
  if (vv) {
    const sync = () => {
      if (Math.abs(vv.scale - 1) > 0.01) return;
      root.style.setProperty("--fp-app-height", `${Math.round(vv.height)}px`);
      root.style.setProperty("--fp-app-top", `${Math.max(0, Math.round(vv.offsetTop))}px`);
    };
    vv.addEventListener("resize", sync);
    vv.addEventListener("scroll", sync);
    sync();
  }
  if (bridge.embedded) {
    let frame = 0;
    new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() =>
        bridge.postToHost("resize", {
          width: root.clientWidth,
          height: root.clientHeight,
          layout: root.clientWidth < 840 ? "narrow" : view.drawerMode ? "drawer" : "wide",
        }),
      );
    }).observe(root);
  }
}

function wireShell() {
  app.addEventListener("fp-navigate", (event) => navigate(event.detail.id, { templateId: event.detail.templateId }));
  // A draft template was created or decided, a template saved (dialogs live outside #fp-app).
  document.addEventListener("fp-scripts-changed", () => renderDrafts());
  app.addEventListener("fp-new-session", () => startSession());
  // Confirm & post succeeded: the host hears `resolved` / `escalated`, the list shows the new status.
  app.addEventListener("fp-session-closed", (event) => {
    if (event.detail.session) noteStatus(event.detail.session);
    list.reload();
  });
  $("fp-home").addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(null);
  });
  $("fp-home").href = `/pilot${location.search}`;
  window.addEventListener("popstate", route);
  if (bridge.embedded) {
    document.documentElement.dataset.embed = bridge.displayMode;
    const close = $("fp-embed-close");
    close.hidden = bridge.displayMode !== "sidebar";
    close.addEventListener("click", () => bridge.postToHost("close-request"));
  }
}

// ---- Boot ------------------------------------------------------------------------------
async function boot() {
  bridge.start();
  wireShell();
  initShortcuts();
  initPalette();
  initLayoutObservers();
  bridge.on("unauthorized", ({ reason }) => {
    if (app.dataset.state === "signed-out") return; // several calls may fail at once: say it once
    toast({ tone: "danger", title: "Signed out", message: "Your FlowPilot sign-in has expired." });
    bridge.postToHost("error", { code: "unauthorized", detail: "The embed token was rejected and no fresh one arrived." });
    renderSignedOut(reason === "expired" ? "expired" : "no-token");
  });
  bridge.on("context", () => {
    if (!routeId() && state.me) renderHome();
  });

  if (bridge.embedded) renderHomeWaiting();
  const token = await bridge.currentToken();
  if (!token) {
    renderSignedOut("no-token");
    bridge.postToHost("error", { code: "no_token", detail: "No embed token was provided." });
    return;
  }
  try {
    state.me = await api("/api/v1/me");
  } catch (error) {
    if (error.status !== 401) {
      renderSignedOut("no-token");
      toast({ tone: "danger", title: "FlowPilot couldn't start", message: error.message });
      bridge.postToHost("error", { code: "startup_failed", status: error.status, detail: error.message });
    }
    return;
  }
  app.dataset.state = "ready";
  renderIdentity(state.me);
  library.me = state.me;
  renderDrafts();
  list.reload();
  await route();
  bridge.postToHost("ready", { account: state.me.account, user: state.me.user });
}

function renderHomeWaiting() {
  home.replaceChildren(
    emptyState({ variant: "page", icon: "clock", title: "Connecting…", body: "Waiting for your portal to sign you in." }),
  );
}

boot();
