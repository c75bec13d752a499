// <fp-chat> — the chat column: the problem card, the conversation, and the composer.
// Cmd/Ctrl+Enter sends. Messages are rendered as text (user) or through markdown.js (assistant),
// never as HTML. Replies stream (POST with Accept: text/event-stream): the text grows as plain
// text with marker syntax hidden (sse.js liveText), then the final message replaces it with its
// markers shown as chips (a question or check chip reveals its task-lane item). A failed turn
// keeps the technician's message and offers Retry with the same client_message_id.
// It shows one session's SessionStore (attach(store)) and writes a finished turn into it.
// When the technician has settled, in the lane, what the last reply asked, the store says
// "continue-due" and the chat streams the next turn by itself (POST .../messages/continue): the
// lane's summary shows as the technician's message "from the task lane". "Answer in chat" on a
// question puts the composer in answering mode: the message carries answers_item_id.
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
  #continueWanted = false; // a continuation became due while a turn was in flight
  #answering = null; // the open question the composer answers ({id, text}), or null

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
    this.answeringBar = h("div", { class: "fp-composer__answering", hidden: true });
    this.form = h(
      "form",
      { class: "fp-composer", "aria-label": "Composer" },
      this.answeringBar,
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

  /**
   * Show `store`'s session: the problem and composer follow the store; `transcript` is the promise
   * of its messages ({items}, as SessionStore.open() resolves), shown once the session is known.
   */
  attach(store, { transcript }) {
    // A reply still streaming for the previous session finishes in the background (the server
    // stores it); it no longer touches this view.
    this.store = store;
    this.#sending = null;
    this.#continueWanted = false;
    this.#setAnswering(null);
    this.sendButton.removeAttribute("aria-busy");
    this.problem.replaceChildren();
    this.messages.replaceChildren();
    this.empty.replaceChildren(skeleton({ lines: 3, block: true }));
    this.#setComposer(null);
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
    store.on("continue-due", () => this.continueConversation());
  }

  /** Answer the open question `item` ({id, text}) with the next message. */
  answerInChat(item) {
    if (this.session?.status !== "open") return;
    this.#setAnswering(item);
    this.input.focus();
  }

  #setAnswering(item) {
    this.#answering = item;
    this.answeringBar.hidden = !item;
    if (!item) {
      this.answeringBar.replaceChildren();
      return;
    }
    this.answeringBar.replaceChildren(
      icon("help", "sm"),
      h("span", { class: "fp-composer__answering-text" }, "Answering: ", h("strong", { text: item.text })),
      h("button", {
        type: "button",
        class: "fp-btn fp-btn--ghost fp-btn--sm",
        "data-action": "stop-answering",
        "aria-label": "Don't answer the question with this message",
        text: "×",
        onclick: () => this.#setAnswering(null),
      }),
    );
  }

  /** The technician answered what the last reply asked in the lane: stream the next turn, once. */
  continueConversation() {
    if (this.session?.status !== "open") return;
    if (this.#sending) {
      this.#continueWanted = true;
      return;
    }
    this.#post(null, { path: "/messages/continue", body: {} });
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
    const fromLane = message.origin === "lane";
    node.classList.toggle("fp-message--lane", fromLane);
    const answered = isUser && message.id ? answeredBy(this.store, message.id) : null;
    const body = h("div", { class: "fp-message__body" });
    if (answered)
      body.append(h("p", { class: "fp-message__answers" }, icon("help", "sm"), h("span", { text: `Answer to: ${answered.text}` })));
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
          h("span", { class: "fp-message__author", text: fromLane ? "From the task lane" : isUser ? "You" : "FlowPilot" }),
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
    const answering = this.#answering;
    this.#setAnswering(null);
    const mine = this.appendMessage({ role: "user", content, created_at: new Date().toISOString() });
    const body = { content, client_message_id: crypto.randomUUID?.() || `${Date.now()}-${Math.random()}` };
    if (answering) body.answers_item_id = answering.id;
    await this.#post(mine, { path: "/messages", body });
  }

  /**
   * Post one message (or a lane continuation, `mine` null: the server writes the message) and stream
   * the reply; the body's client_message_id makes a retry safe (the server never stores it twice).
   */
  async #post(mine, { path, body }) {
    const turnInFlight = {};
    this.#sending = turnInFlight;
    this.sendButton.setAttribute("aria-busy", "true");
    mine?.querySelector(".fp-message__failed")?.remove();
    mine?.classList.add("fp-message--sending");
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
      await apiStream(store.url(path), {
        body,
        onEvent: ({ type, data }) => {
          if (type === "user_message" && data?.id) {
            if (!mine) {
              mine = this.appendMessage(data);
              this.messages.append(reply); // the reply stays below the message it answers
            } else this.updateMessage(mine, data);
          } else if (type === "delta") live.add(typeof data === "string" ? data : data?.text || "");
          else if (type === "done") turn = data;
          else if (type === "error") failure = new ApiError(data?.status || 503, data || {});
        },
      });
      if (!turn && !failure) failure = new ApiError(0, { title: "Reply interrupted", detail: "The reply stopped before it was complete." });
    } catch (error) {
      failure = error;
    } finally {
      live.stop();
      mine?.classList.remove("fp-message--sending");
    }
    if (this.#sending !== turnInFlight) return; // another session is shown now
    this.#sending = null;
    this.sendButton.removeAttribute("aria-busy");
    if (turn) {
      if (turn.user_message) {
        if (mine) this.updateMessage(mine, turn.user_message);
        else mine = this.appendMessage(turn.user_message);
      }
      if (turn.assistant_message) this.updateMessage(reply, turn.assistant_message);
      else reply.remove();
      this.#stickToBottom(true);
      store.applyTurn(turn);
      this.#continueIfWanted();
      return;
    }
    reply.remove();
    const error = failure;
    if (error?.name === "AbortError") return;
    if (!mine) {
      // The continuation did not start (nothing due any more: 409) or failed before its message was stored.
      if (!(error instanceof ApiError && error.status === 409)) {
        toast({ tone: "danger", title: "FlowPilot didn't continue", message: error?.message || "The reply failed." });
      }
      this.#continueIfWanted();
      return;
    }
    const content = body.content ?? mine.querySelector(".fp-message__text")?.textContent ?? "";
    const clientId = body.client_message_id;
    const kept = !(error instanceof ApiError) || error.status === 0 || error.status >= 500 || error.status === 429 || mine.dataset.id;
    if (kept && !clientId) {
      // A lane continuation: asking again continues the same turn (the server keeps its message).
      this.#offerRetry(mine, content, null, "FlowPilot didn't answer.", "alert", { path, body });
      toast({ tone: "danger", title: "No answer from FlowPilot", message: error?.message || "The reply failed." });
      return;
    }
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
  #offerRetry(mine, content, clientId, text, role = null, request = null) {
    const again = request ?? { path: "/messages", body: { content, client_message_id: clientId } };
    const retry = h(
      "button",
      {
        type: "button",
        class: "fp-btn fp-btn--sm",
        "data-action": "retry",
        onclick: () => {
          if (!this.#sending) this.#post(mine, again);
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

  #continueIfWanted() {
    if (!this.#continueWanted) return;
    this.#continueWanted = false;
    this.continueConversation();
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

/** The lane question a technician's chat message answered, if it did. */
function answeredBy(store, messageId) {
  if (!store) return null;
  return store.lane.questions.find((q) => q.answered_via === "chat" && q.answer_message_id === messageId) ?? null;
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
