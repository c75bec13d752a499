// What We Know: the facts confirmed in this session.
//   <fp-what-we-know>        the lane section (extends fp-lane-section): facts, a "Checking what this
//                            tells us…" row while an answer is being synthesised, the new-note editor
//   <fp-what-we-know-item>   one fact. Manual notes and AI-synthesised facts are editable inline (click
//                            or Enter on the text, Enter saves, Escape cancels) and deletable (inline
//                            confirm). Facts from a question or a check are read-only and say where
//                            they came from: no edit control at all.
//   <fp-add-note-button>     "Add note": opens the new-note editor at the end of the section.
// The section calls its <fp-task-lane> for every write (addNote, editFact, deleteFact).
import { FpElement } from "../components/fp-element.js";
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { FpLaneSection } from "./lane-section.js";

const ORIGIN = {
  question: { icon: "help", label: "From question" },
  check: { icon: "terminal", label: "From check" },
  manual: { icon: "pencil", label: "Your note" },
  ai_synthesis: { icon: "sparkle", label: "Noted by FlowPilot" },
};
const MAX_FACT_CHARS = 2000;

/** Flash a just-added or just-changed element (CSS .fp-flash; removed when the animation ends). */
export function flash(el) {
  if (!el) return;
  el.classList.remove("fp-flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("fp-flash");
  el.addEventListener("animationend", () => el.classList.remove("fp-flash"), { once: true });
  setTimeout(() => el.classList.remove("fp-flash"), 2500);
}

/** A textarea that grows with its content (up to `max` px), without inline styles in markup. */
export function autosize(textarea, max = 200) {
  const fit = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight + 2, max)}px`;
  };
  textarea.addEventListener("input", fit);
  requestAnimationFrame(fit);
  return fit;
}

/** An inline text editor (textarea, Save, Cancel). Enter or Ctrl/⌘+Enter saves; Escape cancels. */
function factEditor({ value = "", label, placeholder, saveLabel = "Save", onSave, onCancel }) {
  const inputId = uniqueId("fp-fact-input");
  const errorId = uniqueId("fp-fact-error");
  const input = h("textarea", {
    class: "fp-textarea fp-fact__input",
    id: inputId,
    rows: "2",
    maxlength: String(MAX_FACT_CHARS),
    "aria-label": label,
    placeholder,
    "aria-describedby": errorId,
  });
  input.value = value;
  const error = h("p", { class: "fp-form-error fp-fact__error", id: errorId, role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "fp-btn fp-btn--primary fp-btn--sm", "data-action": "save", text: saveLabel });
  const cancel = h("button", { type: "button", class: "fp-btn fp-btn--ghost fp-btn--sm", "data-action": "cancel", text: "Cancel" });
  const form = h(
    "form",
    { class: "fp-fact__editor", novalidate: true },
    input,
    h(
      "div",
      { class: "fp-fact__editor-bar" },
      h("span", { class: "fp-fact__editor-hint", text: "Enter to save · Esc to cancel" }),
      cancel,
      save,
    ),
    error,
  );
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  };
  const submit = async () => {
    const text = input.value.replace(/\s+/g, " ").trim();
    if (!text) {
      fail("Write something first, or press Escape to cancel.");
      return;
    }
    save.setAttribute("aria-busy", "true");
    save.disabled = true;
    try {
      await onSave(text);
    } catch (err) {
      fail(err.message || "Couldn't save.");
    } finally {
      save.removeAttribute("aria-busy");
      save.disabled = false;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  cancel.addEventListener("click", () => onCancel());
  input.addEventListener("input", () => {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      event.preventDefault(); // keeps the drawer (a modal <dialog>) open
      event.stopPropagation();
      onCancel();
    }
  });
  autosize(input, 180);
  return { form, input };
}

export class FpWhatWeKnowItem extends FpElement {
  static tag = "fp-what-we-know-item";

  fact = null;
  #mode = "view"; // view | edit | confirm

  /** Show `fact`; `source` is the lane item it came from ({kind, text}) when known. */
  update(fact, { source = null } = {}) {
    const changed =
      !this.fact ||
      this.fact.text !== fact.text ||
      this.fact.updated_at !== fact.updated_at ||
      this.fact.editable !== fact.editable ||
      this.source?.text !== source?.text;
    this.fact = fact;
    this.source = source;
    if (changed && this.#mode === "view") this.#render();
  }

  get editable() {
    return Boolean(this.fact?.editable);
  }

  #render() {
    const fact = this.fact;
    const origin = ORIGIN[fact.origin] || { icon: "info", label: "Fact" };
    this.dataset.origin = fact.origin;
    this.dataset.id = fact.id;
    this.toggleAttribute("data-editable", this.editable);
    this.classList.add("fp-fact");
    const main = h("div", { class: "fp-fact__main" });
    if (this.#mode === "edit") {
      const { form, input } = factEditor({
        value: fact.text,
        label: "Edit fact",
        onSave: async (text) => {
          if (text === fact.text) {
            this.#setMode("view");
            return;
          }
          const saved = await this.lane.editFact(fact.id, text);
          this.fact = saved;
          this.#setMode("view");
          flash(this);
          this.querySelector(".fp-fact__text")?.focus();
        },
        onCancel: () => this.#setMode("view", true),
      });
      main.append(form);
      this.replaceChildren(this.#marker(origin), main);
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      return;
    }
    const text = this.editable
      ? h(
          "button",
          {
            type: "button",
            class: "fp-fact__text",
            "data-action": "edit-text",
            title: "Click to edit",
            "aria-label": `${fact.text} (edit)`,
            onclick: () => this.#setMode("edit"),
          },
          fact.text,
        )
      : h("p", { class: "fp-fact__text", text: fact.text });
    main.append(text, this.#sourceLine(origin));
    let actions = null;
    if (this.#mode === "confirm") {
      const yes = h("button", {
        type: "button",
        class: "fp-btn fp-btn--danger fp-btn--sm",
        "data-action": "confirm-delete",
        text: "Delete",
        onclick: () => this.#delete(yes),
      });
      const no = h("button", {
        type: "button",
        class: "fp-btn fp-btn--ghost fp-btn--sm",
        "data-action": "cancel-delete",
        text: "Keep",
        onclick: () => this.#setMode("view", true),
      });
      main.append(
        h(
          "div",
          { class: "fp-fact__confirm", role: "group", "aria-label": "Delete this fact?" },
          h("span", { text: "Delete this fact?" }),
          no,
          yes,
        ),
      );
      no.addEventListener("keydown", (event) => this.#escapeTo(event));
      yes.addEventListener("keydown", (event) => this.#escapeTo(event));
      this.replaceChildren(this.#marker(origin), main);
      queueMicrotask(() => no.focus());
      return;
    }
    if (this.editable) {
      actions = h(
        "div",
        { class: "fp-fact__actions" },
        h(
          "button",
          {
            type: "button",
            class: "fp-icon-btn fp-icon-btn--sm",
            "data-action": "edit",
            "aria-label": "Edit fact",
            title: "Edit",
            onclick: () => this.#setMode("edit"),
          },
          icon("pencil", "sm"),
        ),
        h(
          "button",
          {
            type: "button",
            class: "fp-icon-btn fp-icon-btn--sm",
            "data-action": "delete",
            "aria-label": "Delete fact",
            title: "Delete",
            onclick: () => this.#setMode("confirm"),
          },
          icon("trash", "sm"),
        ),
      );
    }
    this.replaceChildren(this.#marker(origin), main, actions || "");
  }

  #escapeTo(event) {
    if (event.key !== "Escape") return;
    event.preventDefault();
    event.stopPropagation();
    this.#setMode("view", true);
  }

  #marker(origin) {
    return h("span", { class: "fp-fact__icon", "aria-hidden": "true" }, icon(origin.icon, "sm"));
  }

  #sourceLine(origin) {
    const fact = this.fact;
    const line = h("p", { class: "fp-fact__source" });
    if ((fact.origin === "question" || fact.origin === "check") && this.source?.text) {
      // A link (inline, so a long question wraps with the label) that reveals the item in the lane.
      line.append(
        `${origin.label}: `,
        h(
          "a",
          {
            href: `#fp-item-${fact.source_ref}`,
            class: "fp-fact__source-link",
            "data-action": "show-source",
            title: `Show this ${fact.origin} in the task lane`,
            onclick: (event) => {
              event.preventDefault();
              this.dispatchEvent(new CustomEvent("fp-focus-item", { bubbles: true, detail: { id: fact.source_ref } }));
            },
          },
          this.source.text,
        ),
      );
    } else if (fact.origin === "question" || fact.origin === "check") {
      line.append(`From a ${fact.origin}`);
    } else {
      line.append(origin.label);
    }
    return line;
  }

  #setMode(mode, refocus = false) {
    this.#mode = mode;
    this.#render();
    if (refocus && mode === "view") this.querySelector(".fp-fact__text")?.focus();
  }

  async #delete(button) {
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    try {
      await this.lane.deleteFact(this.fact.id);
    } catch {
      this.#setMode("view", true); // the lane showed the error
    }
  }

  get lane() {
    return this.closest("fp-task-lane");
  }
}

export class FpAddNoteButton extends FpElement {
  static tag = "fp-add-note-button";

  connectedCallback() {
    if (this.button) return;
    this.button = h(
      "button",
      { type: "button", class: "fp-btn fp-btn--ghost fp-btn--sm", "data-action": "add-note", "aria-label": "Add note to What We Know" },
      icon("plus", "sm"),
      "Add note",
    );
    this.button.addEventListener("click", () => this.closest("fp-what-we-know")?.startNote());
    this.append(this.button);
  }

  focus() {
    this.button?.focus();
  }
  set disabled(value) {
    if (this.button) this.button.disabled = Boolean(value);
  }
}

export class FpWhatWeKnow extends FpLaneSection {
  static tag = "fp-what-we-know";

  #pending = new Map(); // item id → row
  #editor = null;

  connectedCallback() {
    const first = !this.body;
    super.connectedCallback();
    if (first) {
      this.addButton = h("fp-add-note-button");
      this.actions.append(this.addButton);
    }
  }

  /** Render `facts` in order; `sourceOf(fact)` names the lane item a question/check fact came from. */
  setFacts(facts, sourceOf = () => null) {
    this.reconcile(facts, {
      create: (fact) => {
        const el = h("fp-what-we-know-item");
        el.update(fact, { source: sourceOf(fact) });
        return el;
      },
      update: (el, fact) => el.update(fact, { source: sourceOf(fact) }),
    });
    this.setCount(facts.length);
  }

  factElement(id) {
    return this.itemElement(id);
  }

  /** "Checking what this tells us…" while the answer to `item` is being turned into a fact. */
  setPending(item, on) {
    this.#ensureList();
    const existing = this.#pending.get(item.id);
    if (on && !existing) {
      const row = h(
        "div",
        { class: "fp-fact fp-fact--pending", role: "status", "data-pending": item.id },
        h("span", { class: "fp-fact__icon", "aria-hidden": "true" }, h("span", { class: "fp-spinner" })),
        h(
          "div",
          { class: "fp-fact__main" },
          h("p", { class: "fp-fact__text", text: "Checking what this tells us…" }),
          h("p", { class: "fp-fact__source", text: `${item.kind === "question" ? "From question" : "From check"}: ${item.text}` }),
        ),
      );
      this.#pending.set(item.id, row);
      this.extra.prepend(row);
    } else if (!on && existing) {
      existing.remove();
      this.#pending.delete(item.id);
    }
    this.refreshEmpty();
  }

  /** Open the inline editor for a new manual note. */
  startNote() {
    this.#ensureList();
    if (this.#editor) {
      this.#editor.input.focus();
      return;
    }
    const close = () => {
      this.#editor?.row.remove();
      this.#editor = null;
      this.refreshEmpty();
      this.addButton.focus();
    };
    const { form, input } = factEditor({
      label: "New note",
      placeholder: "e.g. User restarted the PC twice; no change",
      saveLabel: "Add note",
      onSave: async (text) => {
        await this.closest("fp-task-lane").addNote(text);
        close();
      },
      onCancel: close,
    });
    const row = h(
      "div",
      { class: "fp-fact fp-fact--new", "data-editor": "new-note" },
      h("span", { class: "fp-fact__icon", "aria-hidden": "true" }, icon("pencil", "sm")),
      h("div", { class: "fp-fact__main" }, form),
    );
    this.#editor = { row, input };
    this.extra.append(row);
    this.refreshEmpty();
    input.focus();
  }

  #ensureList() {
    if (!this.list || this.list.parentNode !== this.body) this.reconcile([], { create: () => null, update: () => {} });
  }
}
