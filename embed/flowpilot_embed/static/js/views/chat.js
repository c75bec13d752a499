// <fp-chat> — the chat column: the problem card, the conversation, and the composer.
// Cmd/Ctrl+Enter sends. Messages are rendered as text (user) or through markdown.js (assistant),
// never as HTML. Later features stream replies: they call appendMessage()/updateMessage().
import { api, apiOptional, ApiError } from "../api.js";
import { h, kbd, replace, relativeTime, absoluteTime } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton, ticketLabel } from "../components/ui.js";
import { toast } from "../components/fp-toaster.js";
import { renderMarkdown } from "../markdown.js";

export class FpChat extends HTMLElement {
  static define(tag = "fp-chat", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  session = null;
  #sending = false;

  connectedCallback() {
    if (this.scroller) return;
    this.problem = h("section", { class: "fp-problem", "aria-label": "Problem" });
    this.messages = h("ol", { class: "fp-messages", role: "log", "aria-label": "Conversation", "aria-live": "polite" });
    this.empty = h("div", { class: "fp-chat__empty" });
    this.scroller = h("div", { class: "fp-chat__scroll", tabindex: "-1" },
      h("div", { class: "fp-chat__inner" }, this.problem, this.messages, this.empty));
    this.input = h("textarea", {
      class: "fp-composer__input", rows: "1", "aria-label": "Message FlowPilot", name: "message",
      placeholder: "Describe what you see, paste an error, or answer a question…",
    });
    this.sendButton = h("button", { class: "fp-btn fp-btn--primary fp-btn--sm", type: "submit", "aria-label": "Send message" },
      icon("send", "sm"), h("span", { class: "fp-composer__send-label", text: "Send" }));
    this.form = h("form", { class: "fp-composer", "aria-label": "Composer" },
      this.input,
      h("div", { class: "fp-composer__bar" },
        h("span", { class: "fp-composer__hint" }, kbd("mod", "↵"), " to send"),
        this.sendButton));
    this.replaceChildren(this.scroller, h("div", { class: "fp-composer-wrap" }, this.form));

    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.send(); });
    this.input.addEventListener("input", () => this.#autosize());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.metaKey || event.ctrlKey) && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        this.send();
      }
    });
  }

  async load(session, { signal } = {}) {
    this.session = session;
    this.#renderProblem(session);
    this.messages.replaceChildren();
    this.empty.replaceChildren(skeleton({ lines: 3, block: true }));
    this.sendButton.disabled = session.status !== "open";
    this.input.disabled = session.status !== "open";
    this.input.placeholder = session.status === "open"
      ? (matchMedia("(max-width: 600px)").matches ? "Message FlowPilot…" : "Describe what you see, paste an error, or answer a question…")
      : `This session is ${session.status}. Its conversation is read-only.`;
    try {
      const data = await apiOptional(`/api/v1/ai-sessions/${encodeURIComponent(session.id)}/messages`, { items: [] }, { signal });
      if (signal?.aborted) return;
      const items = Array.isArray(data) ? data : data?.items || [];
      items.forEach((m) => this.appendMessage(m));
      this.#renderEmpty(items.length === 0);
    } catch (error) {
      if (error.name === "AbortError") return;
      this.empty.replaceChildren(emptyState({ icon: "alert-circle", title: "Couldn't load the conversation", body: error.message }));
    }
  }

  focusComposer() { this.input.focus(); }

  /** Add a message {id, role: "user"|"assistant"|"system", content, created_at}; returns its node. */
  appendMessage(message) {
    this.#renderEmpty(false);
    const node = h("li", { class: `fp-message fp-message--${message.role === "user" ? "user" : "assistant"}`, "data-id": message.id || "" });
    this.messages.append(node);
    this.updateMessage(node, message);
    this.scroller.scrollTop = this.scroller.scrollHeight;
    return node;
  }

  updateMessage(node, message) {
    const isUser = message.role === "user";
    const body = h("div", { class: "fp-message__body" });
    if (isUser) body.append(h("p", { class: "fp-message__text", text: message.content ?? "" }));
    else body.append(renderMarkdown(message.content ?? ""));
    replace(node,
      h("div", { class: "fp-message__avatar", "aria-hidden": "true" }, isUser ? icon("user", "sm") : icon("sparkle", "sm")),
      h("div", { class: "fp-message__main" },
        h("div", { class: "fp-message__meta" },
          h("span", { class: "fp-message__author", text: isUser ? "You" : "FlowPilot" }),
          message.created_at && h("time", { datetime: message.created_at, title: absoluteTime(message.created_at), text: relativeTime(message.created_at) })),
        body));
  }

  async send() {
    const content = this.input.value.trim();
    if (!content || this.#sending || !this.session || this.session.status !== "open") return;
    this.input.value = "";
    this.#autosize();
    const mine = this.appendMessage({ role: "user", content, created_at: new Date().toISOString() });
    await this.#post(mine, content, crypto.randomUUID?.() || `${Date.now()}-${Math.random()}`);
  }

  /** Post one message; `clientId` makes a retry safe (the server never stores it twice). */
  async #post(mine, content, clientId) {
    this.#sending = true;
    this.sendButton.setAttribute("aria-busy", "true");
    mine.querySelector(".fp-message__failed")?.remove();
    const session = this.session;
    const thinking = this.appendMessage({ role: "assistant", content: "" });
    thinking.classList.add("fp-message--pending");
    thinking.querySelector(".fp-message__body").replaceChildren(
      h("span", { class: "fp-typing", role: "status", "aria-label": "FlowPilot is thinking" }, h("span"), h("span"), h("span")));
    try {
      const turn = await api(`/api/v1/ai-sessions/${encodeURIComponent(session.id)}/messages`, {
        method: "POST", body: { content, client_message_id: clientId },
      });
      if (turn?.user_message) this.updateMessage(mine, turn.user_message);
      if (turn?.assistant_message) this.updateMessage(thinking, turn.assistant_message);
      else thinking.remove();
      this.dispatchEvent(new CustomEvent("fp-turn", { bubbles: true, detail: { session, turn } }));
    } catch (error) {
      thinking.remove();
      if (error instanceof ApiError && error.status >= 500) {
        // The server kept the message; offer to ask again with the same client id.
        const retry = h("button", { type: "button", class: "fp-btn fp-btn--sm fp-btn--ghost", text: "Retry",
          onclick: () => this.#post(mine, content, clientId) });
        mine.querySelector(".fp-message__main").append(
          h("div", { class: "fp-message__failed", role: "alert" }, icon("alert-circle", "sm"), h("span", { text: "FlowPilot didn't answer." }), retry));
        toast({ tone: "danger", title: "No answer from FlowPilot", message: error.message });
      } else {
        mine.remove();
        this.#renderEmpty(!this.messages.children.length);
        if (!this.input.value) { this.input.value = content; this.#autosize(); }
        if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
          toast({ tone: "info", title: "Chat isn't available yet", message: "This FlowPilot server doesn't answer messages yet. Your text is still in the composer." });
        } else {
          toast({ tone: "danger", title: "Message not sent", message: `${error.message} Your text is still in the composer.` });
        }
      }
    } finally {
      this.#sending = false;
      this.sendButton.removeAttribute("aria-busy");
    }
  }

  #autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  #renderEmpty(isEmpty) {
    if (!isEmpty) { this.empty.replaceChildren(); return; }
    this.empty.replaceChildren(emptyState({
      icon: "message", title: "No messages yet",
      body: this.session?.status === "open"
        ? "Tell FlowPilot what you've already checked, or ask for the first diagnostic steps. Questions and checks will appear in the task lane."
        : "This session has no conversation.",
    }));
  }

  #renderProblem(session) {
    const ticket = session.ticket && typeof session.ticket === "object" ? session.ticket : {};
    const details = [["Company", ticket.company], ["Contact", ticket.contact], ["Board", ticket.board], ["Ticket status", ticket.status]]
      .filter(([, v]) => v);
    replace(this.problem,
      h("div", { class: "fp-problem__head" },
        h("span", { class: "fp-overline", text: "Problem" }),
        session.ticket_ref && h("span", { class: "fp-problem__ticket", text: ticketLabel(session.psa_provider, session.ticket_ref) })),
      h("p", { class: "fp-problem__statement", text: session.problem_statement || "" }),
      ticket.summary && h("p", { class: "fp-problem__summary" }, h("span", { class: "fp-problem__label", text: "Ticket summary" }), h("span", { text: ticket.summary })),
      ticket.description && ticket.description.trim() !== (session.problem_statement || "").trim() &&
        h("p", { class: "fp-problem__description", text: ticket.description }),
      details.length > 0 && h("dl", { class: "fp-problem__details" },
        details.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: String(v) })))));
  }
}
