// <fp-session-list> — the sidebar: New session, status filter, search, and the sessions.
// Emits "fp-navigate" {detail: {id}} and "fp-new-session"; call reload() after changes.
// The list is endless: it shows the first page (PAGE_SIZE, most recently updated first) and reads
// the next one with the API's cursor whenever its end scrolls into view.
import { FpElement } from "../components/fp-element.js";
import { api } from "../api.js";
import { h, relativeTime, absoluteTime } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";
import { toast } from "../components/fp-toaster.js";
import { ticketContext } from "../bridge.js";

const PAGE_SIZE = 50;
const FILTERS = [
  ["open", "Open"],
  ["resolved", "Resolved"],
  ["escalated", "Escalated"],
];
const EMPTY = {
  open: ["No open sessions", "Start a session when you pick up a ticket. FlowPilot keeps the questions, checks and facts together."],
  resolved: ["No resolved sessions yet", "Sessions you resolve appear here with their resolution note."],
  escalated: ["No escalated sessions", "Sessions you hand off appear here with their escalation package."],
};

export class FpSessionList extends FpElement {
  static tag = "fp-session-list";

  filter = "open";
  query = "";
  selectedId = null;
  sessions = [];
  #abort = null;
  #debounce = 0;
  #cursor = null; // the next page's cursor; null once every session is shown
  #loadingMore = false;

  connectedCallback() {
    if (this.listEl) return;
    this.filterButtons = FILTERS.map(([value, label]) =>
      h("button", {
        type: "button",
        "aria-pressed": String(value === this.filter),
        "data-filter": value,
        text: label,
        onclick: () => this.setFilter(value),
      }),
    );
    this.search = h("input", {
      class: "fp-input",
      type: "search",
      placeholder: "Search sessions",
      "aria-label": "Search sessions",
      autocomplete: "off",
      oninput: () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => {
          this.query = this.search.value.trim();
          this.reload();
        }, 250);
      },
    });
    this.listEl = h("nav", { class: "fp-session-list__items", "aria-label": "Sessions" });
    this.more = h("div", { class: "fp-session-list__more", role: "status", "data-more": "" });
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.#loadMore();
    });
    this.replaceChildren(
      h(
        "div",
        { class: "fp-session-list__head" },
        h(
          "button",
          {
            type: "button",
            class: "fp-btn fp-btn--primary fp-btn--block",
            "data-action": "new-session",
            onclick: () => this.dispatchEvent(new CustomEvent("fp-new-session", { bubbles: true })),
          },
          icon("plus"),
          "New session",
        ),
        h("div", { class: "fp-segmented", role: "group", "aria-label": "Filter by status" }, this.filterButtons),
        h("div", { class: "fp-search" }, icon("search", "sm"), this.search),
      ),
      this.listEl,
    );
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

  disconnectedCallback() {
    this.observer?.disconnect();
    this.#abort?.abort();
  }

  #url(cursor) {
    const params = new URLSearchParams({ status: this.filter, limit: String(PAGE_SIZE) });
    if (this.query) params.set("q", this.query);
    if (cursor) params.set("cursor", cursor);
    return `/api/v1/ai-sessions?${params}`;
  }

  /** Read the first page again (after a filter, a search or a change). */
  async reload() {
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.#loadingMore = false;
    if (!this.sessions.length) this.listEl.replaceChildren(skeletonRows());
    try {
      const page = await api(this.#url(null), { signal: abort.signal });
      if (abort.signal.aborted) return;
      this.sessions = page.items;
      this.#cursor = page.next_cursor;
      this.#render();
    } catch (error) {
      if (error.name === "AbortError") return;
      this.sessions = [];
      this.#cursor = null;
      this.listEl.replaceChildren(
        emptyState({
          icon: "alert-circle",
          title: "Couldn't load sessions",
          body: error.message,
          actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm", text: "Retry", onclick: () => this.reload() })],
        }),
      );
      if (error.status !== 401) toast({ tone: "danger", title: "Couldn't load sessions", message: error.message });
    }
  }

  /** The end of the list came into view: append the next page, if there is one. */
  async #loadMore() {
    if (!this.#cursor || this.#loadingMore) return;
    this.#loadingMore = true;
    const abort = this.#abort;
    this.more.replaceChildren(h("span", { class: "fp-spinner", "aria-hidden": "true" }), h("span", { text: "Loading more sessions…" }));
    try {
      const page = await api(this.#url(this.#cursor), { signal: abort.signal });
      if (abort.signal.aborted) return;
      // A session updated while paging moves to the top: it may come twice, and is shown once.
      const known = new Set(this.sessions.map((s) => s.id));
      const fresh = page.items.filter((s) => !known.has(s.id));
      this.sessions = [...this.sessions, ...fresh];
      this.#cursor = page.next_cursor;
      const ticketRef = ticketContext()?.ref;
      this.ul.append(...fresh.map((s) => h("li", {}, sessionLink(s, s.id === this.selectedId, ticketRef))));
      this.#watchEnd();
    } catch (error) {
      if (error.name === "AbortError") return;
      this.more.replaceChildren(
        h("span", { text: "Couldn't load more sessions." }),
        h("button", { type: "button", class: "fp-btn fp-btn--sm fp-btn--ghost", text: "Retry", onclick: () => this.#loadMore() }),
      );
    } finally {
      if (abort === this.#abort) this.#loadingMore = false;
    }
  }

  /** Observe the end of the list while there is more; observing anew reports it if it is in view already. */
  #watchEnd() {
    this.observer.unobserve(this.more);
    this.more.replaceChildren();
    this.more.hidden = !this.#cursor;
    if (this.#cursor) this.observer.observe(this.more);
  }

  #render() {
    if (!this.sessions.length) {
      const [title, body] = this.query ? ["No matches", `No ${this.filter} session mentions “${this.query}”.`] : EMPTY[this.filter];
      this.listEl.replaceChildren(emptyState({ icon: this.query ? "search" : "inbox", title, body }));
      this.#watchEnd();
      return;
    }
    const ticketRef = ticketContext()?.ref;
    this.ul = h(
      "ul",
      { role: "list" },
      this.sessions.map((s) => h("li", {}, sessionLink(s, s.id === this.selectedId, ticketRef))),
    );
    this.listEl.replaceChildren(this.ul, this.more);
    this.#watchEnd();
  }
}

export function sessionHref(id) {
  return `/pilot/${encodeURIComponent(id)}${location.search}`;
}

function sessionLink(session, selected, ticketRef) {
  const link = h(
    "a",
    { class: "fp-session-item", href: sessionHref(session.id), "data-id": session.id, "aria-current": selected ? "page" : null },
    h("span", { class: "fp-session-item__status", "data-status": session.status, title: session.status }),
    h("span", { class: "fp-session-item__title", text: session.title || session.problem_statement || "Untitled session" }),
    h(
      "span",
      { class: "fp-session-item__meta" },
      session.ticket_ref &&
        h("span", { class: "fp-session-item__ticket", title: `#${session.ticket_ref}`, text: `#${session.ticket_ref}` }),
      ticketRef && session.ticket_ref === ticketRef && h("span", { class: "fp-badge fp-badge--accent", text: "This ticket" }),
      h("time", { datetime: session.updated_at || "", title: absoluteTime(session.updated_at), text: relativeTime(session.updated_at) }),
    ),
  );
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    link.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: session.id } }));
  });
  return link;
}

function skeletonRows() {
  return h(
    "div",
    { class: "fp-session-list__loading" },
    Array.from({ length: 5 }, () => skeleton({ lines: 2 })),
  );
}
