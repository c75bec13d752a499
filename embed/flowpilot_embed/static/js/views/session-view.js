// <fp-session-view> — one session: header (title, ticket, status), chat column, task lane.
// At widths below 1200px the task lane becomes a bottom drawer: a native <dialog> opened with
// showModal() (so focus moves in, the rest is inert, Escape closes), toggled from the header.
// Each show(id) makes a new SessionStore for the chat and the lane and closes the previous one,
// so nothing still on its way for the session shown before can appear under this header.
// An open session's header has Resolve and Escalate (no keyboard shortcut, per the plan): each opens
// the note preview popover (<fp-note-preview>) for this session's store. The suggested fix's "Generate
// script" opens the inline script generator (script-generator.js) for the store's active fix.
import { FpElement } from "../components/fp-element.js";
import { SessionStore } from "../session-store.js";
import { h, relativeTime, absoluteTime } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton, statusBadge, ticketBadge } from "../components/ui.js";
import { FpNotePreview, KINDS } from "./note-preview.js";
import { flash } from "./what-we-know.js";
import { openScriptGenerator } from "./script-generator.js";

FpNotePreview.define();

export const DRAWER_QUERY = "(max-width: 1199.98px)";

export class FpSessionView extends FpElement {
  static tag = "fp-session-view";

  store = null;
  #mql = matchMedia(DRAWER_QUERY);

  connectedCallback() {
    if (!this.header) this.#build();
    this.#mql.addEventListener("change", this.#onModeChange);
    this.#onModeChange();
  }

  disconnectedCallback() {
    this.#mql.removeEventListener("change", this.#onModeChange);
    this.store?.close();
  }

  /** The session shown, once it has loaded. */
  get session() {
    return this.store?.session ?? null;
  }

  get drawerMode() {
    return this.#mql.matches;
  }
  get drawerOpen() {
    return this.drawerMode && this.lane.open;
  }

  #build() {
    this.header = h("header", { class: "fp-session__header" });
    this.chat = h("fp-chat");
    this.taskLane = h("fp-task-lane");
    this.laneClose = h(
      "button",
      { type: "button", class: "fp-icon-btn", "aria-label": "Close task lane", onclick: () => this.closeDrawer() },
      icon("x"),
    );
    this.lane = h(
      "dialog",
      { class: "fp-lane", id: "fp-task-lane", "aria-labelledby": "fp-lane-title" },
      h(
        "div",
        { class: "fp-lane__drawer-head" },
        h("span", { class: "fp-lane__grabber", "aria-hidden": "true" }),
        h("h2", { class: "fp-lane__title", id: "fp-lane-title", text: "Task lane" }),
        this.laneClose,
      ),
      h("div", { class: "fp-lane__scroll" }, this.taskLane),
    );
    this.lane.addEventListener("close", () => {
      if (this.drawerMode) {
        this.laneToggle?.setAttribute("aria-expanded", "false");
        this.laneToggle?.focus();
      }
    });
    this.lane.addEventListener("click", (event) => {
      if (event.target === this.lane && this.drawerOpen) this.closeDrawer();
    });
    this.columns = h("div", { class: "fp-session__columns" }, this.chat, this.lane);
    // A question chip in the conversation (or any "show this item" link) reveals the lane item.
    this.addEventListener("fp-focus-item", (event) => {
      if (!event.detail?.id) return;
      this.openDrawer();
      this.taskLane.focusItem(event.detail.id);
    });
    // "Answer in chat" on a question: the composer answers it (the message carries answers_item_id).
    this.addEventListener("fp-answer-in-chat", (event) => {
      if (!event.detail?.id) return;
      if (this.drawerOpen) this.closeDrawer();
      this.chat.answerInChat(event.detail);
    });
    // A preview line's "Show" on the problem statement or a ticket field.
    this.addEventListener("fp-focus-problem", () => {
      const problem = this.chat.problem;
      if (!problem) return;
      problem.scrollIntoView({ block: "nearest" });
      problem.tabIndex = -1;
      problem.focus({ preventScroll: true });
      flash(problem);
    });
    // The suggested fix's "Generate script" (and Cmd/Ctrl+G, the palette): the inline script generator.
    this.addEventListener("fp-open-script", (event) => this.openScriptGenerator(event.detail?.trigger));
    this.notePreview = h("fp-note-preview");
    this.replaceChildren(this.header, this.columns, this.notePreview);
  }

  /** Open the resolution note ("resolution") or escalation package ("escalation") preview. */
  openPreview(kind) {
    if (!this.store?.session) return;
    const trigger =
      this.header.querySelector(`[data-action=${kind === "resolution" ? "resolve" : "escalate"}]`) ||
      this.header.querySelector("[data-action=posted-note]");
    this.notePreview.open(this.store, kind, trigger, { beside: this.drawerMode ? null : this.lane });
  }

  /** Open the inline script generator for the active fix of an open session; false when there is none. */
  openScriptGenerator(trigger = document.activeElement) {
    const store = this.store;
    if (!store?.fix || store.session?.status !== "open") return false;
    openScriptGenerator(store, store.fix, { trigger });
    return true;
  }

  #closeActions(session) {
    if (session.status === "open") {
      return [
        h(
          "button",
          {
            type: "button",
            class: "fp-btn fp-btn--sm fp-session__close",
            "data-action": "escalate",
            "aria-label": KINDS.escalation.action,
            title: "Review the escalation package, then post it",
            "aria-haspopup": "dialog",
            onclick: () => this.openPreview("escalation"),
          },
          icon("escalate", "sm"),
          h("span", { class: "fp-session__close-label", text: KINDS.escalation.action }),
        ),
        h(
          "button",
          {
            type: "button",
            class: "fp-btn fp-btn--sm fp-btn--primary fp-session__close",
            "data-action": "resolve",
            "aria-label": KINDS.resolution.action,
            title: "Review the resolution note, then post it",
            "aria-haspopup": "dialog",
            onclick: () => this.openPreview("resolution"),
          },
          icon("check-circle", "sm"),
          h("span", { class: "fp-session__close-label", text: KINDS.resolution.action }),
        ),
      ];
    }
    const posted = this.notePreview.postedFor(this.store);
    if (!posted) return [];
    return [
      h(
        "button",
        {
          type: "button",
          class: "fp-btn fp-btn--sm",
          "data-action": "posted-note",
          "aria-haspopup": "dialog",
          onclick: () => this.openPreview(posted),
        },
        icon("notebook", "sm"),
        h("span", { text: `Posted ${KINDS[posted].title.toLowerCase()}` }),
      ),
    ];
  }

  #openItems = 0;

  /** The drawer toggle shows how many questions, checks and actions are waiting in the lane. */
  #renderToggleCount() {
    if (!this.laneToggle) return;
    const badge = this.laneToggle.querySelector(".fp-badge--count");
    badge.hidden = !this.#openItems;
    badge.textContent = String(this.#openItems);
    this.laneToggle.setAttribute("aria-label", this.#openItems ? `Task lane, ${this.#openItems} open` : "Task lane");
  }

  #onModeChange = () => {
    // Wide: the lane is a plain column (a non-modal, always-open dialog in place).
    // Drawer: closed until toggled; opening it is modal.
    if (this.lane.open) this.lane.close();
    if (this.drawerMode) {
      this.lane.setAttribute("aria-modal", "true");
      this.lane.removeAttribute("role");
    } else {
      this.lane.removeAttribute("aria-modal");
      this.lane.setAttribute("role", "complementary");
      this.lane.show();
    }
    this.laneToggle?.setAttribute("aria-expanded", "false");
  };

  openDrawer() {
    if (!this.drawerMode || this.lane.open) return;
    this.lane.showModal();
    this.laneToggle?.setAttribute("aria-expanded", "true");
    this.laneClose.focus();
  }

  closeDrawer() {
    if (this.drawerOpen) this.lane.close();
  }
  toggleDrawer() {
    if (this.drawerOpen) this.closeDrawer();
    else this.openDrawer();
  }

  /** Show session `id`; resolves with the session, or null when it can't be shown (or another was shown meanwhile). */
  async show(id) {
    this.store?.close();
    if (this.notePreview.isOpen) this.notePreview.hidePopover();
    const store = new SessionStore(id);
    this.store = store;
    this.dataset.state = "loading";
    this.columns.querySelector(".fp-session__error")?.remove();
    this.header.replaceChildren(h("div", { class: "fp-session__header-loading" }, skeleton({ lines: 1, title: true })));
    this.chat.hidden = false;
    this.lane.hidden = false;
    this.#openItems = 0;
    store.on("session", (_, { session }) => this.#render(session));
    store.on("lane", () => {
      this.#openItems = store.openItemCount;
      this.#renderToggleCount();
    });
    this.taskLane.attach(store);
    const transcript = store.open(); // one request: the session, lane, facts, fix and recent messages
    this.chat.attach(store, { transcript });
    try {
      await transcript;
      return store.session;
    } catch (error) {
      if (error.name === "AbortError") return null;
      if (store.loaded.session) return store.session; // only the older messages failed: the chat says so
      this.#renderError(error);
      return null;
    }
  }

  #renderError(error) {
    this.dataset.state = "error";
    this.chat.hidden = true;
    this.lane.hidden = true;
    this.header.replaceChildren(this.#backButton());
    const missing = error.status === 404;
    this.columns.prepend(
      h(
        "div",
        { class: "fp-session__error" },
        emptyState({
          variant: "page",
          icon: missing ? "search" : "alert-circle",
          title: missing ? "Session not found" : "Couldn't open this session",
          body: missing ? "It may have been removed, or it belongs to another account." : error.message,
          actions: [
            h("button", {
              type: "button",
              class: "fp-btn",
              "data-action": "back",
              text: "Back to sessions",
              onclick: () => this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: null } })),
            }),
          ],
        }),
      ),
    );
  }

  #render(session) {
    this.dataset.state = "ready";
    this.dataset.status = session.status;
    this.laneToggle = h(
      "button",
      {
        type: "button",
        class: "fp-btn fp-btn--sm fp-session__lane-toggle",
        "aria-controls": this.lane.id,
        "aria-expanded": String(this.drawerOpen),
        "aria-haspopup": "dialog",
        onclick: () => this.toggleDrawer(),
      },
      icon("panel-bottom", "sm"),
      h("span", { class: "fp-session__lane-toggle-label", text: "Task lane" }),
      h("span", { class: "fp-badge fp-badge--count", hidden: true }),
    );
    this.#renderToggleCount();
    const updated = session.updated_at || session.created_at;
    this.header.replaceChildren(
      this.#backButton(),
      h(
        "div",
        { class: "fp-session__heading" },
        h(
          "div",
          { class: "fp-session__title-row" },
          h("h1", { class: "fp-session__title", text: session.title || session.problem_statement || "Untitled session" }),
          ticketBadge(session),
          statusBadge(session.status),
        ),
        h(
          "p",
          { class: "fp-session__meta" },
          session.ticket?.company && h("span", { text: session.ticket.company }),
          updated && h("span", {}, "Updated ", h("time", { datetime: updated, title: absoluteTime(updated), text: relativeTime(updated) })),
        ),
      ),
      h("div", { class: "fp-session__actions" }, this.#closeActions(session), this.laneToggle),
    );
  }

  #backButton() {
    return h(
      "button",
      {
        type: "button",
        class: "fp-icon-btn fp-session__back",
        "aria-label": "Back to sessions",
        onclick: () => this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: null } })),
      },
      icon("arrow-left"),
    );
  }
}
