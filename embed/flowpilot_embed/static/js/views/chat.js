// <fp-chat> — the chat column: the problem card, the conversation, and the composer.
// Cmd/Ctrl+Enter sends. Messages are rendered as text (user) or through markdown.js (assistant),
// never as HTML. Replies stream (POST with Accept: text/event-stream): the text grows as plain
// text with marker syntax hidden (sse.js liveText), then the final message replaces it with its
// markers shown as chips (a question or check chip reveals its task-lane item). A failed turn
// keeps the technician's message and offers Retry with the same client_message_id.
// It shows one session's SessionStore (attach(store)) and writes a finished turn into it.
import { FpElement } from "../components/fp-element.js";
import { apiStream, ApiError } from "../api.js";
import { liveText } from "../sse.js";
import { h, kbd, replace, relativeTime, absoluteTime } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton, ticketLabel } from "../components/ui.js";
import { toast } from "../components/fp-toaster.js";
import { renderMarkdown } from "../markdown.js";

export class FpChat extends FpElement {
  static tag = "fp-chat";

  store = null;
  #sending = null; // the turn in flight (one at a time), or null

  get session() {
    return this.store?.session ?? null;
  }

  connectedCallback() {
    if (this.scroller) return;
    this.problem = h("section", { class: "fp-problem", "aria-label": "Problem" });
    // The log is the live region; the list inside it keeps the messages a list.
    this.messages = h("ol", { class: "fp-messages", "aria-label": "Messages" });
    this.log = h("div", { class: "fp-chat__log", role: "log", "aria-label": "Conversation", "aria-live": "polite" }, this.messages);
    this.empty = h("div", { class: "fp-chat__empty" });
    this.scroller = h(
      "div",
      { class: "fp-chat__scroll", tabindex: "-1" },
      h("div", { class: "fp-chat__inner" }, this.problem, this.log, this.empty),
    );
    this.input = h("textarea", {
      class: "fp-composer__input",
      rows: "1",
      "aria-label": "Message FlowPilot",
      name: "message",
      placeholder: "Describe what you see, paste an error, or answer a question…",
    });
    this.sendButton = h(
      "button",
      { class: "fp-btn fp-btn--primary fp-btn--sm", type: "submit", "aria-label": "Send message" },
      icon("send", "sm"),
      h("span", { class: "fp-composer__send-label", text: "Send" }),
    );
    this.form = h(
      "form",
      { class: "fp-composer", "aria-label": "Composer" },
      this.input,
      h("div", { class: "fp-composer__bar" }, h("span", { class: "fp-composer__hint" }, kbd("mod", "↵"), " to send"), this.sendButton),
    );
    this.replaceChildren(this.scroller, h("div", { class: "fp-composer-wrap" }, this.form));

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("input", () => this.#autosize());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.metaKey || event.ctrlKey) && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        this.send();
      }
    });
  }

  /** Show `store`'s session: the problem and composer follow the store, the transcript is read once. */
  attach(store) {
    // A reply still streaming for the previous session finishes in the background (the server
    // stores it); it no longer touches this view.
    this.store = store;
    this.#sending = null;
    this.sendButton.removeAttribute("aria-busy");
    this.problem.replaceChildren();
    this.messages.replaceChildren();
    this.empty.replaceChildren(skeleton({ lines: 3, block: true }));
    this.#setComposer(null);
    const transcript = store.read("/messages");
    transcript.catch(() => {}); // handled once the session is known, below
    let first = true;
    store.on("session", (_, { session }) => {
      this.#renderProblem(session);
      this.#setComposer(session);
      if (first) {
        first = false;
        this.#showTranscript(store, transcript);
      }
    });
    store.on("lane", (_, { lane }) => this.syncMarkers(lane));
  }

  #setComposer(session) {
    const open = session?.status === "open";
    this.sendButton.disabled = !open;
    this.input.disabled = !open;
    if (!session) return;
    this.input.placeholder = open
      ? matchMedia("(max-width: 600px)").matches
        ? "Message FlowPilot…"
        : "Describe what you see, paste an error, or answer a question…"
      : `This session is ${session.status}. Its conversation is read-only.`;
  }

  async #showTranscript(store, transcript) {
    try {
      const { items } = await transcript;
      if (store !== this.store) return;
      // A turn that failed (or was cut off) before this page loaded: the message is stored, the reply
      // isn't. Offer Retry with its client_message_id, as right after a failure.
      const replied = new Set(items.map((m) => m.reply_to_id).filter(Boolean));
      for (const m of items) {
        const node = this.appendMessage(m);
        if (m.role === "user" && m.client_message_id && !replied.has(m.id) && store.session.status === "open") {
          this.#offerRetry(node, m.content, m.client_message_id, "No answer from FlowPilot yet.");
        }
      }
      this.#renderEmpty(items.length === 0);
    } catch (error) {
      if (error.name === "AbortError" || store !== this.store) return;
      this.empty.replaceChildren(emptyState({ icon: "alert-circle", title: "Couldn't load the conversation", body: error.message }));
    }
  }

  focusComposer() {
    this.input.focus();
  }

  /** Add a message {id, role: "user"|"assistant"|"system", content, created_at}; returns its node. */
  appendMessage(message) {
    this.#renderEmpty(false);
    const node = h("li", {
      class: `fp-message fp-message--${message.role === "user" ? "user" : "assistant"}`,
      "data-id": message.id || "",
    });
    this.messages.append(node);
    this.updateMessage(node, message);
    this.scroller.scrollTop = this.scroller.scrollHeight;
    return node;
  }

  updateMessage(node, message) {
    const isUser = message.role === "user";
    const body = h("div", { class: "fp-message__body" });
    if (isUser) body.append(h("p", { class: "fp-message__text", text: message.content ?? "" }));
    else {
      body.append(renderMarkdown(message.content ?? ""));
      decorateMarkers(body, message.markers);
    }
    this.#applyStatuses(body);
    if (message.id) node.dataset.id = message.id;
    node.classList.remove("fp-message--pending", "fp-message--streaming");
    node.removeAttribute("aria-busy");
    replace(
      node,
      h("div", { class: "fp-message__avatar", "aria-hidden": "true" }, isUser ? icon("user", "sm") : icon("sparkle", "sm")),
      h(
        "div",
        { class: "fp-message__main" },
        h(
          "div",
          { class: "fp-message__meta" },
          h("span", { class: "fp-message__author", text: isUser ? "You" : "FlowPilot" }),
          message.created_at &&
            h("time", { datetime: message.created_at, title: absoluteTime(message.created_at), text: relativeTime(message.created_at) }),
        ),
        body,
      ),
    );
  }

  async send() {
    const content = this.input.value.trim();
    if (!content || this.#sending || !this.session || this.session.status !== "open") return;
    this.input.value = "";
    this.#autosize();
    const mine = this.appendMessage({ role: "user", content, created_at: new Date().toISOString() });
    await this.#post(mine, content, crypto.randomUUID?.() || `${Date.now()}-${Math.random()}`);
  }

  /** Post one message and stream the reply; `clientId` makes a retry safe (the server never stores it twice). */
  async #post(mine, content, clientId) {
    const turnInFlight = {};
    this.#sending = turnInFlight;
    this.sendButton.setAttribute("aria-busy", "true");
    mine.querySelector(".fp-message__failed")?.remove();
    mine.classList.add("fp-message--sending");
    const store = this.store;
    const reply = this.appendMessage({ role: "assistant", content: "" });
    reply.classList.add("fp-message--pending");
    reply.setAttribute("aria-busy", "true");
    reply
      .querySelector(".fp-message__body")
      .replaceChildren(
        h("span", { class: "fp-typing", role: "status", "aria-label": "FlowPilot is thinking" }, h("span"), h("span"), h("span")),
      );
    const live = new LiveReply(reply, () => this.#stickToBottom());
    let turn = null;
    let failure = null;
    try {
      await apiStream(store.url("/messages"), {
        body: { content, client_message_id: clientId },
        onEvent: ({ type, data }) => {
          if (type === "user_message" && data?.id) this.updateMessage(mine, data);
          else if (type === "delta") live.add(typeof data === "string" ? data : data?.text || "");
          else if (type === "done") turn = data;
          else if (type === "error") failure = new ApiError(data?.status || 503, data || {});
        },
      });
      if (!turn && !failure) failure = new ApiError(0, { title: "Reply interrupted", detail: "The reply stopped before it was complete." });
    } catch (error) {
      failure = error;
    } finally {
      live.stop();
      mine.classList.remove("fp-message--sending");
    }
    if (this.#sending !== turnInFlight) return; // another session is shown now
    this.#sending = null;
    this.sendButton.removeAttribute("aria-busy");
    if (turn) {
      if (turn.user_message) this.updateMessage(mine, turn.user_message);
      if (turn.assistant_message) this.updateMessage(reply, turn.assistant_message);
      else reply.remove();
      this.#stickToBottom(true);
      store.applyTurn(turn);
      return;
    }
    reply.remove();
    const error = failure;
    if (error?.name === "AbortError") return;
    const kept = !(error instanceof ApiError) || error.status === 0 || error.status >= 500 || error.status === 429 || mine.dataset.id;
    if (kept) {
      this.#offerRetry(mine, content, clientId, "FlowPilot didn't answer.", "alert");
      toast({ tone: "danger", title: "No answer from FlowPilot", message: error?.message || "The reply failed." });
      return;
    }
    mine.remove();
    this.#renderEmpty(!this.messages.children.length);
    if (!this.input.value) {
      this.input.value = content;
      this.#autosize();
    }
    toast({ tone: "danger", title: "Message not sent", message: `${error.message} Your text is still in the composer.` });
  }

  /** The server kept the message (or may have): ask again with the same client id, never a second message. */
  #offerRetry(mine, content, clientId, text, role = null) {
    const retry = h(
      "button",
      {
        type: "button",
        class: "fp-btn fp-btn--sm",
        "data-action": "retry",
        onclick: () => {
          if (!this.#sending) this.#post(mine, content, clientId);
        },
      },
      icon("refresh", "sm"),
      "Retry",
    );
    mine.querySelector(".fp-message__failed")?.remove();
    mine
      .querySelector(".fp-message__main")
      .append(h("div", { class: "fp-message__failed", role }, icon("alert-circle", "sm"), h("span", { text }), retry));
  }

  /** Mirror task-lane item statuses on the chips that point at them ("Answer" → "Answered"). */
  syncMarkers(lane = {}) {
    this.#statuses = new Map(["questions", "checks", "actions"].flatMap((k) => (lane[k] || []).map((i) => [i.id, i.status])));
    this.#applyStatuses(this.messages);
  }

  #statuses = new Map();

  #applyStatuses(root) {
    for (const el of root.querySelectorAll(".fp-marker[data-item-id]")) {
      const status = this.#statuses.get(el.dataset.itemId);
      if (status && el.dataset.status !== status) setChipStatus(el, status);
    }
  }

  /** Keep the newest text in view while it streams, unless the technician scrolled up to read. */
  #stickToBottom(force = false) {
    const s = this.scroller;
    if (force || s.scrollHeight - s.scrollTop - s.clientHeight < 120) s.scrollTop = s.scrollHeight;
  }

  #autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  #renderEmpty(isEmpty) {
    if (!isEmpty) {
      this.empty.replaceChildren();
      return;
    }
    this.empty.replaceChildren(
      emptyState({
        icon: "message",
        title: "No messages yet",
        body:
          this.session?.status === "open"
            ? "Tell FlowPilot what you've already checked, or ask for the first diagnostic steps. Questions and checks will appear in the task lane."
            : "This session has no conversation.",
      }),
    );
  }

  #renderProblem(session) {
    const ticket = session.ticket && typeof session.ticket === "object" ? session.ticket : {};
    const details = [
      ["Company", ticket.company],
      ["Contact", ticket.contact],
      ["Board", ticket.board],
      ["Ticket status", ticket.status],
    ].filter(([, v]) => v);
    replace(
      this.problem,
      h(
        "div",
        { class: "fp-problem__head" },
        h("span", { class: "fp-overline", text: "Problem" }),
        session.ticket_ref && h("span", { class: "fp-problem__ticket", text: ticketLabel(session.psa_provider, session.ticket_ref) }),
      ),
      h("p", { class: "fp-problem__statement", text: session.problem_statement || "" }),
      ticket.summary &&
        h(
          "p",
          { class: "fp-problem__summary" },
          h("span", { class: "fp-problem__label", text: "Ticket summary" }),
          h("span", { text: ticket.summary }),
        ),
      ticket.description &&
        ticket.description.trim() !== (session.problem_statement || "").trim() &&
        h("p", { class: "fp-problem__description", text: ticket.description }),
      details.length > 0 &&
        h(
          "dl",
          { class: "fp-problem__details" },
          details.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: String(v) }))),
        ),
    );
  }
}

/**
 * A reply while it streams: raw text accumulates; at most once per animation frame the bubble shows
 * liveText(raw) as plain text (with a caret), so a fast stream costs one layout per frame.
 */
class LiveReply {
  #raw = "";
  #frame = 0;
  #text = null;

  constructor(node, onRender) {
    this.node = node;
    this.onRender = onRender;
  }

  add(delta) {
    if (!delta) return;
    this.#raw += delta;
    if (!this.#frame) this.#frame = requestAnimationFrame(() => this.#render());
  }

  #render() {
    this.#frame = 0;
    const shown = liveText(this.#raw).replace(/^\s+/, "");
    if (!shown) return;
    if (!this.#text) {
      this.node.classList.remove("fp-message--pending");
      this.node.classList.add("fp-message--streaming");
      this.#text = h("p", { class: "fp-message__text fp-message__live" });
      this.node.querySelector(".fp-message__body").replaceChildren(this.#text);
    }
    this.#text.textContent = shown;
    this.onRender();
  }

  stop() {
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }
}

const CHIP = {
  question: { icon: "help", label: (m) => m.text, action: "Answer" },
  check: { icon: "terminal", label: (m) => `Check: ${m.title || ""}`, action: "Run" },
  action: { icon: "list-checks", label: (m) => m.text, action: "Do" },
  promote: { icon: "notebook", label: (m) => `Noted: ${m.text}` },
  suggest_fix: { icon: "wrench", label: (m) => `Suggested fix: ${m.title || ""}` },
};

/**
 * Show the markers of a rendered assistant message as chips: each marker's display text (see
 * docs/markers.md) is found in the rendered text and wrapped; questions, checks and actions become
 * buttons that reveal their task-lane item. A marker whose text can't be found is listed below.
 */
export function decorateMarkers(body, markers) {
  if (!Array.isArray(markers) || !markers.length) return;
  const missing = [];
  for (const marker of markers) {
    const spec = CHIP[marker?.type];
    if (!spec) continue;
    const label = String(spec.label(marker) || "").trim();
    if (!label) continue;
    if (!wrapText(body, label, (text) => chip(marker, spec, text))) missing.push(chip(marker, spec, label));
  }
  if (missing.length) body.append(h("div", { class: "fp-message__markers" }, missing));
}

const DONE_LABEL = { answered: "Answered", done: "Done", dismissed: "Dismissed" };

/** Show a chip's item status: open items invite action, answered/done ones say so. */
function setChipStatus(el, status) {
  el.dataset.status = status;
  const go = el.querySelector(".fp-marker__go");
  const spec = CHIP[el.dataset.marker];
  if (!go || !spec) return;
  if (status === "open") go.replaceChildren(spec.action, icon("chevron-right", "sm"));
  else go.replaceChildren(status === "dismissed" ? "" : icon("check", "sm"), DONE_LABEL[status] || status);
}

function chip(marker, spec, text) {
  const linked = marker.item_id && spec.action;
  const el = h(
    linked ? "button" : "span",
    {
      class: `fp-marker fp-marker--${marker.type.replace("_", "-")}`,
      type: linked ? "button" : null,
      "data-marker": marker.type,
      "data-item-id": marker.item_id || null,
      title: linked ? "Show it in the task lane" : null,
    },
    icon(spec.icon, "sm"),
    h("span", { class: "fp-marker__text", text }),
    linked && h("span", { class: "fp-marker__go", "aria-hidden": "true" }, spec.action, icon("chevron-right", "sm")),
  );
  if (linked) {
    el.addEventListener("click", () =>
      el.dispatchEvent(new CustomEvent("fp-focus-item", { bubbles: true, detail: { id: marker.item_id } })),
    );
  }
  return el;
}

/** Replace the first occurrence of `needle` inside one text node of `root` (not inside code or a chip). */
function wrapText(root, needle, make) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest("code, pre, .fp-marker") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(needle);
    if (at < 0) continue;
    const match = node.splitText(at);
    match.splitText(needle.length);
    match.replaceWith(make(needle));
    return true;
  }
  return false;
}
