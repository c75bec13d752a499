// <fp-session-list> — the sidebar: New session, status filter, search, and the sessions.
// Emits "fp-navigate" {detail: {id}} and "fp-new-session"; call reload() after changes.
import { api } from "../api.js";
import { h, relativeTime, absoluteTime } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";
import { toast } from "../components/fp-toaster.js";
import { ticketContext } from "../bridge.js";

const FILTERS = [["open", "Open"], ["resolved", "Resolved"], ["escalated", "Escalated"]];
const EMPTY = {
  open: ["No open sessions", "Start a session when you pick up a ticket. FlowPilot keeps the questions, checks and facts together."],
  resolved: ["No resolved sessions yet", "Sessions you resolve appear here with their resolution note."],
  escalated: ["No escalated sessions", "Sessions you hand off appear here with their escalation package."],
};

export class FpSessionList extends HTMLElement {
  static define(tag = "fp-session-list", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  filter = "open";
  query = "";
  selectedId = null;
  sessions = [];
  #abort = null;
  #debounce = 0;

  connectedCallback() {
    if (this.listEl) return;
    this.filterButtons = FILTERS.map(([value, label]) =>
      h("button", { type: "button", "aria-pressed": String(value === this.filter), "data-filter": value, text: label,
        onclick: () => this.setFilter(value) }));
    this.search = h("input", {
      class: "fp-input", type: "search", placeholder: "Search sessions", "aria-label": "Search sessions",
      autocomplete: "off", oninput: () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => { this.query = this.search.value.trim(); this.reload(); }, 250);
      },
    });
    this.listEl = h("nav", { class: "fp-session-list__items", "aria-label": "Sessions" });
    this.replaceChildren(
      h("div", { class: "fp-session-list__head" },
        h("button", { type: "button", class: "fp-btn fp-btn--primary fp-btn--block", "data-action": "new-session",
          onclick: () => this.dispatchEvent(new CustomEvent("fp-new-session", { bubbles: true })) }, icon("plus"), "New session"),
        h("div", { class: "fp-segmented", role: "group", "aria-label": "Filter by status" }, this.filterButtons),
        h("div", { class: "fp-search" }, icon("search", "sm"), this.search)),
      this.listEl);
    this.listEl.replaceChildren(skeletonRows());
  }

  setFilter(value) {
    this.filter = value;
    for (const button of this.filterButtons) button.setAttribute("aria-pressed", String(button.dataset.filter === value));
    this.reload();
  }

  select(id) {
    this.selectedId = id;
    for (const link of this.listEl.querySelectorAll("a[data-id]")) {
      if (link.dataset.id === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  async reload() {
    this.#abort?.abort();
    const abort = (this.#abort = new AbortController());
    if (!this.sessions.length) this.listEl.replaceChildren(skeletonRows());
    const params = new URLSearchParams({ status: this.filter, limit: "50" });
    if (this.query) params.set("q", this.query);
    try {
      const data = await api(`/api/v1/ai-sessions?${params}`, { signal: abort.signal });
      if (abort.signal.aborted) return;
      this.sessions = Array.isArray(data?.items) ? data.items : [];
      this.#render();
    } catch (error) {
      if (error.name === "AbortError") return;
      this.sessions = [];
      this.listEl.replaceChildren(emptyState({ icon: "alert-circle", title: "Couldn't load sessions", body: error.message,
        actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm", text: "Retry", onclick: () => this.reload() })] }));
      if (error.status !== 401) toast({ tone: "danger", title: "Couldn't load sessions", message: error.message });
    }
  }

  #render() {
    if (!this.sessions.length) {
      const [title, body] = this.query
        ? ["No matches", `No ${this.filter} session mentions “${this.query}”.`]
        : EMPTY[this.filter];
      this.listEl.replaceChildren(emptyState({ icon: this.query ? "search" : "inbox", title, body }));
      return;
    }
    const ticketRef = ticketContext()?.ref;
    this.listEl.replaceChildren(h("ul", { role: "list" }, this.sessions.map((s) => h("li", {}, sessionLink(s, s.id === this.selectedId, ticketRef)))));
  }
}

export function sessionHref(id) {
  return `/pilot/${encodeURIComponent(id)}${location.search}`;
}

function sessionLink(session, selected, ticketRef) {
  const link = h("a", { class: "fp-session-item", href: sessionHref(session.id), "data-id": session.id, "aria-current": selected ? "page" : null },
    h("span", { class: "fp-session-item__status", "data-status": session.status, title: session.status }),
    h("span", { class: "fp-session-item__title", text: session.title || session.problem_statement || "Untitled session" }),
    h("span", { class: "fp-session-item__meta" },
      session.ticket_ref && h("span", { class: "fp-session-item__ticket", text: `#${session.ticket_ref}` }),
      ticketRef && session.ticket_ref === ticketRef && h("span", { class: "fp-badge fp-badge--accent", text: "This ticket" }),
      h("time", { datetime: session.updated_at || "", title: absoluteTime(session.updated_at), text: relativeTime(session.updated_at) })));
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    link.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: session.id } }));
  });
  return link;
}

function skeletonRows() {
  return h("div", { class: "fp-session-list__loading" }, Array.from({ length: 5 }, () => skeleton({ lines: 2 })));
}
