// <fp-note-preview> — the ResolutionNotePreview popover and its escalation twin, opened from the
// session header's Resolve / Escalate buttons. It shows GET …/resolution-note/preview (or
// …/escalation-package/preview): every line of the note with the rows it came from, shown on hover
// and focus, with "Show" jumping to that fact, lane item, fix or the problem. While it is open it
// refreshes 500 ms after the last state_version change the SessionStore sees (debounced, with the
// preview's ETag, so an unchanged note costs a 304). "Edit" turns it into a textarea: from then on
// it never refreshes by itself; a newer state_version shows "the session changed" instead.
// "Confirm & post" (or "Resolve locally" / "Escalate locally" for a session without a ticket) posts
// the markdown with the state_version of the preview shown and a fresh idempotency key, which
// "Retry status" reuses so the note is never posted twice. While the post runs it reads
// GET …/writebacks/{key} every PROGRESS_POLL_MS: once the server says the note is on the PSA ticket
// (`posted`), "posting" becomes "verifying", truthfully.
// Once resolved, <fp-templatize-prompt> below the posted note offers to save the session's draft template
// (when the server says to show it).
//
// A native manual popover (not light-dismissed: the technician edits facts in the lane while it is
// open); Escape and the × close it. Events: `fp-focus-item` {id} and `fp-focus-problem` (to jump to a
// source), `fp-session-closed` {session, kind, result} after a post succeeds.
import { FpElement } from "../components/fp-element.js";
import { h, replace, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton, ticketLabel } from "../components/ui.js";
import { ApiError } from "../api.js";
import { renderMarkdown } from "../markdown.js";
import { FpTemplatizePrompt } from "./templatize-prompt.js";

FpTemplatizePrompt.define();

export const REFRESH_DELAY_MS = 500;
export const PROGRESS_POLL_MS = 400;

export const KINDS = {
  resolution: {
    path: "/resolution-note",
    title: "Resolution note",
    action: "Resolve",
    local: "Resolve locally",
    posting: "Posting the resolution note",
    local_posting: "Resolving the session locally…",
    done: "Resolved",
  },
  escalation: {
    path: "/escalation-package",
    title: "Escalation package",
    action: "Escalate",
    local: "Escalate locally",
    posting: "Posting the escalation package",
    local_posting: "Escalating the session locally…",
    done: "Escalated",
  },
};

const newKey = () => `fp-${crypto.randomUUID()}`;

export class FpNotePreview extends FpElement {
  static tag = "fp-note-preview";

  store = null;
  kind = "resolution";
  preview = null; // the preview shown ({state_version, markdown, lines, etag})
  editing = false; // the technician chose Edit: the textarea holds their markdown
  stale = false; // a newer state_version arrived while editing
  post = null; // {key, state: "posting"|"verifying"|"done"|"failed", result, error, markdown}
  #timer = 0;
  #unsubscribe = null;
  #loading = null; // the read in flight: a newer read aborts it, so only the newest answer is shown
  #changedWhileLoading = false;

  connectedCallback() {
    if (this.body) return;
    this.setAttribute("popover", "manual");
    this.classList.add("fp-popover", "fp-preview");
    this.setAttribute("role", "dialog");
    const titleId = uniqueId("fp-preview-title");
    this.setAttribute("aria-labelledby", titleId);
    this.heading = h("h2", { class: "fp-preview__title", id: titleId });
    this.subtitle = h("p", { class: "fp-preview__subtitle" });
    this.closeButton = h("button", { type: "button", class: "fp-icon-btn", "aria-label": "Close", onclick: () => this.close() }, icon("x"));
    this.notice = h("div", { class: "fp-preview__notice", role: "status", hidden: true });
    this.body = h("div", { class: "fp-preview__body" });
    this.status = h("div", { class: "fp-preview__status", role: "status", "aria-live": "polite" });
    this.footer = h("div", { class: "fp-preview__footer" });
    this.replaceChildren(
      h("header", { class: "fp-preview__header" }, h("div", {}, this.heading, this.subtitle), this.closeButton),
      this.notice,
      this.body,
      this.status,
      this.footer,
    );
    this.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    this.addEventListener("toggle", (event) => {
      if (event.newState === "closed") this.#stopFollowing();
    });
  }

  get isOpen() {
    return this.matches(":popover-open");
  }

  /**
   * Open the `kind` ("resolution" | "escalation") preview of `store`'s session under `trigger`; with
   * `beside` (the task lane as a column) it stays left of that element, so the lane remains usable.
   * `preview` shows that preview instead of reading one (the gallery's sample data).
   */
  open(store, kind, trigger, { beside = null, preview = null } = {}) {
    this.beside = beside;
    const reopened = this.store === store && this.kind === kind && (this.editing || this.post);
    if (!reopened) this.#reset(store, kind);
    this.trigger = trigger;
    if (!this.isOpen) this.showPopover();
    this.#position();
    this.#follow();
    if (preview) this.preview = preview; // the gallery shows sample data without a server
    if (!reopened && !preview) this.post = storedPost(store.session, kind);
    if (!reopened && !this.post && !preview) this.load();
    else this.render();
    this.heading.tabIndex = -1;
    this.heading.focus();
  }

  close() {
    if (this.isOpen) this.hidePopover();
    // The header is rebuilt when the session changes (a post closes it): focus what stands there now.
    const trigger = this.trigger?.isConnected ? this.trigger : this.parentElement?.querySelector(".fp-session__actions button");
    trigger?.focus();
  }

  /** Forget everything about the session shown before (a new store means another session). */
  #reset(store, kind) {
    this.store = store;
    this.kind = kind;
    this.preview = null;
    this.editing = false;
    this.stale = false;
    this.post = null;
    this.#loading?.abort();
  }

  #position() {
    const anchor = this.trigger?.getBoundingClientRect();
    if (!anchor) return;
    const width = this.offsetWidth;
    const lane = this.beside?.getBoundingClientRect();
    const right = lane?.width ? Math.min(anchor.right, lane.left - 8) : anchor.right;
    this.style.top = `${Math.round(anchor.bottom + 6)}px`;
    this.style.left = `${Math.round(Math.max(8, Math.min(right - width, innerWidth - width - 8)))}px`;
  }

  // ---- Following the session ------------------------------------------------------------------

  #follow() {
    this.#stopFollowing();
    const store = this.store;
    const offVersion = store.on("state-version", () => this.#versionChanged());
    const reposition = () => this.#position();
    addEventListener("resize", reposition);
    addEventListener("scroll", reposition, { capture: true, passive: true });
    this.#unsubscribe = () => {
      offVersion();
      removeEventListener("resize", reposition);
      removeEventListener("scroll", reposition, { capture: true });
    };
  }

  #stopFollowing() {
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /** A newer state_version: refresh 500 ms after the last one, unless the technician is editing. */
  #versionChanged() {
    if (this.post) return; // posting or posted: the note shown is the one that went out
    if (!this.preview) {
      this.#changedWhileLoading = Boolean(this.#loading); // the first read may already be out of date
      return;
    }
    if (this.store.stateVersion <= this.preview.state_version) return;
    if (this.editing) {
      this.stale = true;
      this.#renderNotice();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.load(), REFRESH_DELAY_MS);
  }

  /** Read the preview (with the ETag of the one shown: a 304 keeps it). */
  async load() {
    const store = this.store;
    const kind = this.kind;
    this.#loading?.abort();
    const controller = new AbortController();
    this.#loading = controller;
    if (!this.preview) this.#renderLoading();
    else this.dataset.refreshing = "";
    try {
      const data = await store.read(`${KINDS[kind].path}/preview`, { ifNoneMatch: this.preview?.etag });
      if (controller.signal.aborted || store !== this.store || kind !== this.kind) return;
      if (data) this.preview = data;
      store.applyResponse(data || {});
      this.stale = false;
      this.dataset.refreshes = String(Number(this.dataset.refreshes || 0) + (data ? 1 : 0));
      this.render();
      if (this.#changedWhileLoading) {
        this.#changedWhileLoading = false;
        this.#versionChanged();
      }
    } catch (error) {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      if (!this.preview) this.#renderLoadError(error);
    } finally {
      if (this.#loading === controller) {
        this.#loading = null;
        delete this.dataset.refreshing;
      }
    }
  }

  // ---- Rendering ------------------------------------------------------------------------------

  get #linked() {
    return Boolean(this.store?.session?.ticket_ref);
  }

  #renderChrome() {
    const session = this.store.session;
    const k = KINDS[this.kind];
    this.dataset.kind = this.kind;
    this.heading.textContent = k.title;
    this.subtitle.textContent = this.#linked
      ? `Goes to ${ticketLabel(session.psa_provider, session.ticket_ref)} as an internal note, when you confirm`
      : "This session has no ticket: it is kept in FlowPilot only";
  }

  #renderLoading() {
    this.#renderChrome();
    this.dataset.state = "loading";
    this.body.setAttribute("aria-busy", "true");
    this.body.replaceChildren(
      h("p", { class: "fp-help", text: `Preparing the ${KINDS[this.kind].title.toLowerCase()}…` }),
      skeleton({ lines: 6, title: true }),
    );
    this.status.replaceChildren();
    this.footer.replaceChildren(this.#cancelButton());
  }

  #renderLoadError(error) {
    this.dataset.state = "error";
    this.body.removeAttribute("aria-busy");
    this.body.replaceChildren(
      emptyState({
        variant: "compact",
        icon: "alert-circle",
        title: `Couldn't prepare the ${KINDS[this.kind].title.toLowerCase()}`,
        body: error.message,
        actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm", text: "Try again", onclick: () => this.load() })],
      }),
    );
  }

  render() {
    this.#renderChrome();
    this.body.removeAttribute("aria-busy");
    this.#renderNotice();
    if (this.post?.state === "done") return this.#renderPosted();
    this.dataset.state = this.editing ? "editing" : "ready";
    if (this.editing) this.#renderEditor();
    else this.body.replaceChildren(this.#lines(this.preview.lines));
    this.#renderPostStatus();
    this.#renderFooter();
  }

  #renderNotice() {
    this.notice.hidden = !this.stale || Boolean(this.post);
    if (this.notice.hidden) return this.notice.replaceChildren();
    this.notice.replaceChildren(
      icon("info", "sm"),
      h("span", { text: "The session changed since this preview." }),
      h("button", {
        type: "button",
        class: "fp-btn fp-btn--sm",
        "data-action": "refresh-preview",
        text: "Refresh the preview",
        title: "Shows the new preview; your edits are discarded",
        onclick: () => this.refresh(),
      }),
    );
  }

  /** Drop the technician's edit and show the current preview. */
  refresh() {
    this.editing = false;
    this.stale = false;
    if (this.post?.state === "failed" && this.post.conflict) this.post = null;
    this.load();
  }

  /** The note as read-only lines, grouped into its sections; each line's sources on hover and focus. */
  #lines(lines) {
    const container = h("div", { class: "fp-preview__note", "data-state-version": String(this.preview.state_version) });
    let section = null;
    let list = null;
    for (const line of lines) {
      const heading = line.text.match(/^#{1,6}\s+(.*)$/);
      const bullet = line.text.match(/^\s*[-*]\s+(.*)$/);
      if (heading) {
        section = h("section", { class: "fp-preview__section" });
        section.append(this.#line(line, "h3", heading[1]));
        container.append(section);
        list = null;
        continue;
      }
      section ||= container.appendChild(h("section", { class: "fp-preview__section" }));
      if (bullet) {
        list ||= section.appendChild(h("ul", { class: "fp-preview__list", role: "list" }));
        list.append(this.#line(line, "li", bullet[1]));
      } else {
        list = null;
        section.append(this.#line(line, "p", line.text));
      }
    }
    return container;
  }

  #line(line, tag, text) {
    const sourceId = uniqueId("fp-src");
    const sources = line.sources.map((s) => this.#describe(s));
    return h(
      tag,
      { class: "fp-preview__line", "data-line": String(line.number), tabindex: "0", "aria-describedby": sourceId },
      h("span", { class: "fp-preview__text", text: unescapeMarkdown(text) }),
      h(
        "span",
        { class: "fp-preview__source", id: sourceId, role: "tooltip" },
        sources.map((s) =>
          h(
            "span",
            { class: "fp-preview__source-row", "data-source-kind": s.kind },
            h("span", { class: "fp-preview__source-label", text: s.label }),
            s.jump &&
              h("button", {
                type: "button",
                class: "fp-btn fp-btn--ghost fp-btn--sm fp-preview__jump",
                "data-action": "jump",
                text: "Show",
                "aria-label": `Show ${s.label}`,
                onclick: s.jump,
              }),
          ),
        ),
      ),
    );
  }

  /** A source as a label ("What We Know: …") and, where it has a place on screen, a jump to it. */
  #describe(source) {
    const store = this.store;
    const focus = (id) => () => this.dispatchEvent(new CustomEvent("fp-focus-item", { bubbles: true, detail: { id } }));
    const problem = () => this.dispatchEvent(new CustomEvent("fp-focus-problem", { bubbles: true }));
    switch (source.kind) {
      case "fact": {
        const fact = store.facts.find((f) => f.id === source.id);
        return { kind: "fact", label: `What We Know: ${fact ? fact.text : "a fact"}`, jump: fact && focus(source.id) };
      }
      case "item": {
        const item = store.findItem(source.id);
        const kind = { check: "Check", action: "Action" }[item?.kind] || "Question";
        return {
          kind: "item",
          label: `${item ? kind : "Task lane item"}: ${item?.text || "no longer in the lane"}`,
          jump: item && focus(source.id),
        };
      }
      case "fix": {
        const fix = store.fixHistory.find((f) => f.id === source.id) || (store.fix?.id === source.id ? store.fix : null);
        const field = { root_cause: "root cause", body: "steps", title: "title" }[source.field] || "";
        const label = `Suggested fix${field ? ` (${field})` : ""}: ${fix?.title || "an earlier fix"}`;
        return { kind: "fix", label, jump: store.fix?.id === source.id ? focus(source.id) : null };
      }
      case "ticket":
        return { kind: "ticket", label: `Ticket: ${fieldName(source.field)}`, jump: problem };
      case "session": {
        const labels = {
          problem_statement: "Session: the problem statement",
          facts: "Session: no facts are confirmed yet",
          fix: "Session: no suggested fix",
          task_lane: "Session: the task lane",
        };
        const jump = source.field === "problem_statement" ? problem : null;
        return { kind: "session", label: labels[source.field] || `Session: ${fieldName(source.field)}`, jump };
      }
      case "template":
        return { kind: "template", label: "Section heading of FlowPilot's template" };
      default:
        return { kind: source.kind, label: `${source.kind}: ${source.id}` };
    }
  }

  #renderEditor() {
    if (!this.textarea) {
      this.textarea = h("textarea", {
        class: "fp-textarea fp-preview__editor",
        "aria-label": `${KINDS[this.kind].title} (markdown)`,
        spellcheck: "true",
      });
    }
    if (this.textarea.parentNode !== this.body) this.body.replaceChildren(this.textarea);
    this.textarea.disabled = Boolean(this.post && this.post.state !== "failed");
  }

  #startEditing() {
    this.editing = true;
    this.render();
    this.textarea.value = this.preview.markdown;
    this.textarea.focus();
  }

  #renderPostStatus() {
    const post = this.post;
    this.status.dataset.state = post?.state || "";
    if (!post) return this.status.replaceChildren();
    const session = this.store.session;
    if (post.state === "posting" || post.state === "verifying") {
      const text =
        post.state === "verifying"
          ? `Note #${post.result?.external_note_id ?? ""} is on the ticket. Verifying the ticket's status…`
          : this.#linked
            ? `${KINDS[this.kind].posting} to ${ticketLabel(session.psa_provider, session.ticket_ref)} and verifying its status…`
            : KINDS[this.kind].local_posting;
      return this.status.replaceChildren(h("span", { class: "fp-spinner", "aria-hidden": "true" }), h("span", { text }));
    }
    // failed
    const partial = post.result;
    this.status.replaceChildren(
      icon("alert-circle", "sm"),
      h(
        "div",
        { class: "fp-preview__status-text" },
        h("p", { class: "fp-preview__status-title", text: post.title }),
        h("p", { class: "fp-help", text: post.error }),
        partial?.external_note_id &&
          h("p", { class: "fp-help", "data-note-id": partial.external_note_id, text: `External note id: ${partial.external_note_id}` }),
      ),
    );
  }

  #renderFooter() {
    const k = KINDS[this.kind];
    const busy = this.post && (this.post.state === "posting" || this.post.state === "verifying");
    const failed = this.post?.state === "failed";
    const buttons = [];
    if (failed && this.post.retryStatus) {
      buttons.push(
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--primary",
          "data-action": "retry-status",
          text: "Retry status",
          onclick: () => this.#send(),
        }),
      );
    } else if (failed && this.post.conflict) {
      buttons.push(
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--primary",
          "data-action": "refresh-preview",
          text: "Refresh the preview",
          onclick: () => this.refresh(),
        }),
      );
    } else {
      if (!this.editing) {
        buttons.push(
          h(
            "button",
            { type: "button", class: "fp-btn", "data-action": "edit", disabled: busy, onclick: () => this.#startEditing() },
            icon("pencil", "sm"),
            "Edit",
          ),
        );
      }
      buttons.push(
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--primary",
          "data-action": "confirm",
          disabled: Boolean(busy),
          text: failed ? "Try again" : this.#linked ? "Confirm & post" : k.local,
          onclick: () => this.#confirm(),
        }),
      );
    }
    replace(
      this.footer,
      this.editing && !busy && h("span", { class: "fp-preview__hint", text: "Editing: this note no longer refreshes by itself." }),
      this.#cancelButton(busy),
      buttons,
    );
  }

  #cancelButton(disabled = false) {
    return h("button", {
      type: "button",
      class: "fp-btn fp-btn--ghost",
      "data-action": "cancel",
      text: "Cancel",
      disabled,
      onclick: () => this.close(),
    });
  }

  // ---- Posting --------------------------------------------------------------------------------

  /** Confirm: a fresh idempotency key for this confirmation; "Try again" after an error reuses it. */
  #confirm() {
    const markdown = this.editing ? this.textarea.value : this.preview.markdown;
    if (!markdown.trim()) {
      this.post = { key: null, state: "failed", title: "The note is empty", error: "Write the note before posting it." };
      this.render();
      return;
    }
    const retry = this.post?.state === "failed" && this.post.key && this.post.markdown === markdown;
    this.post = { key: retry ? this.post.key : newKey(), markdown, stateVersion: this.preview.state_version, result: this.post?.result };
    this.#send();
  }

  /** Post (or re-post with the same key: the server never posts the note twice, it re-does only the status). */
  async #send() {
    const store = this.store;
    const kind = this.kind;
    const post = this.post;
    post.state = post.result?.external_note_id ? "verifying" : "posting";
    this.render();
    const stopWatching = this.#watchProgress(post);
    try {
      const result = await store.write(`${KINDS[kind].path}/post`, {
        body: { markdown: post.markdown, state_version: post.stateVersion, idempotency_key: post.key },
      });
      if (this.post !== post) return;
      post.state = "done";
      post.result = result;
      this.render();
      const session = await store.read().catch(() => null);
      if (session) store.setSession(session);
      this.dispatchEvent(new CustomEvent("fp-session-closed", { bubbles: true, detail: { session, kind, result } }));
    } catch (error) {
      if (this.post !== post) return;
      post.state = "failed";
      const problem = error instanceof ApiError ? error.problem : {};
      post.result = problem.writeback || post.result;
      post.retryStatus = problem.retryable === true && Boolean(problem.writeback?.external_note_id);
      // A 409 naming state_version: the session changed since this preview (another 409: it is closed already).
      post.conflict = error.status === 409 && (problem.errors || []).some((e) => e.field === "state_version");
      post.title = post.retryStatus
        ? "Ticket status not verified"
        : post.conflict
          ? "The session changed since this preview"
          : `Couldn't ${KINDS[kind].action.toLowerCase()}`;
      post.error = error.message;
      this.render();
    } finally {
      stopWatching();
    }
  }

  /** While `post` is posting, read where the server stands; the note on a PSA ticket turns it into "verifying". */
  #watchProgress(post) {
    const store = this.store;
    const path = `/writebacks/${encodeURIComponent(post.key)}`;
    let timer = null;
    let stopped = false;
    const tick = async () => {
      if (stopped || this.post !== post || post.state !== "posting") return;
      try {
        const progress = await store.read(path);
        if (!stopped && this.post === post && post.state === "posting" && progress?.posted_to_psa) {
          post.state = "verifying";
          post.result = progress;
          this.render();
        }
      } catch {
        // Not recorded yet (404), the network, or the store closed: the POST's own answer decides.
      }
      if (!stopped) timer = setTimeout(tick, PROGRESS_POLL_MS);
    };
    timer = setTimeout(tick, PROGRESS_POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** After a post: the note that went out, read-only, with where it went. */
  #renderPosted() {
    const { result, markdown } = this.post;
    this.dataset.state = "done";
    const k = KINDS[this.kind];
    this.body.replaceChildren(
      h(
        "div",
        { class: "fp-preview__posted fp-message__body", role: "document", tabindex: "0", "aria-label": `${k.title} as posted` },
        renderMarkdown(markdown),
      ),
    );
    const where = result.posted_to_psa
      ? `${k.done}. Posted to ticket #${result.ticket_ref} as note #${result.external_note_id}${result.status_after ? `; the ticket's status is now ${result.status_after}` : ""}.`
      : `${k.done} locally: the note is kept in FlowPilot, nothing was posted to a PSA.`;
    this.status.dataset.state = "done";
    this.status.replaceChildren(
      icon("check-circle", "sm"),
      h(
        "div",
        { class: "fp-preview__status-text" },
        h("p", { class: "fp-preview__status-title", text: where }),
        result.external_note_id &&
          h("p", { class: "fp-help", "data-note-id": result.external_note_id, text: `External note id: ${result.external_note_id}` }),
      ),
    );
    this.footer.replaceChildren(
      h("button", { type: "button", class: "fp-btn", "data-action": "close", text: "Close", onclick: () => this.close() }),
    );
    // Resolved: offer to save the session's one-off script as a template (shown only when the server says so).
    if (this.kind === "resolution" && this.store) {
      this.post.prompt ||= h("fp-templatize-prompt", { hidden: true });
      this.body.append(this.post.prompt);
      this.post.prompt.attach(this.store);
    }
  }

  /** The note posted from `store`'s session, if any (the header offers to show it): this page's post or the stored one. */
  postedFor(store) {
    if (this.store === store && this.post?.state === "done") return this.kind;
    return ["resolution", "escalation"].find((kind) => storedPost(store?.session, kind)) ?? null;
  }
}

/** A closed session's note as the server stored it (after a reload the post itself is gone). */
function storedPost(session, kind) {
  const prefix = kind === "resolution" ? "resolution_note" : "escalation_package";
  const markdown = session?.status !== "open" ? session?.[`${prefix}_markdown`] : null;
  if (!markdown) return null;
  const externalId = session[`${prefix}_external_id`] ?? null;
  return {
    state: "done",
    markdown,
    result: { posted_to_psa: Boolean(externalId), external_note_id: externalId, ticket_ref: session.ticket_ref },
  };
}

/** The renderer escapes a leading block character ("\-", "\#") so text can't change the note's structure. */
function unescapeMarkdown(text) {
  return text.replace(/^(\s*)\\([#>+*-]|\d+[.)])/, "$1$2");
}

const fieldName = (field) => String(field || "").replaceAll("_", " ");
