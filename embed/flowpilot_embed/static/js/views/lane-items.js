// The work items of the task lane, answered in place:
//   <fp-questions>          section: <fp-question-item> per question (open first, then answered)
//   <fp-diagnostic-checks>  section: <fp-check-item> per check (open first, then done)
//   <fp-lane-actions>       section: <fp-action-item> per action (shown only when there are actions)
// An open question has an answer field (plus Yes / No for a yes/no question); an open check shows
// its command with Copy and takes pasted output (64 KB at most: the server's 413 is shown as is);
// an action is marked done. Answered and done items show what was recorded. Every write goes
// through the item's <fp-task-lane> (answer, recordOutput, dismiss, promote).
import { FpElement } from "../components/fp-element.js";
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { toast } from "../components/fp-toaster.js";
import { FpLaneSection } from "./lane-section.js";
import { autosize } from "./what-we-know.js";

export const MAX_OUTPUT_BYTES = 64 * 1024;
const SHELLS = { powershell: "PowerShell", cmd: "Command Prompt", bash: "Bash", sh: "sh" };
const YES_NO = /^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall|may|might|must|am)\b/i;

/** A yes/no question: starts like one and offers no "A or B" choice. */
export function isYesNo(text) {
  const t = String(text || "").trim();
  return YES_NO.test(t) && !/\s(or|either)\s/i.test(t);
}

const encoder = new TextEncoder();
const byteLength = (text) => encoder.encode(text).length;
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
}

/** Copy text to the clipboard (Clipboard API, or a hidden textarea where it is blocked). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "fp-visually-hidden", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/** Shared behaviour of the three item kinds. */
class LaneItem extends FpElement {
  item = null;
  #signature = "";

  /** Show `item`; `context` is {readOnly, hasFact}. Re-renders only when something visible changed. */
  update(item, context = {}) {
    const signature = JSON.stringify([
      item.status,
      item.text,
      item.command,
      item.answer,
      item.output,
      Boolean(context.readOnly),
      Boolean(context.hasFact),
    ]);
    this.item = item;
    this.context = context;
    this.id = `fp-item-${item.id}`;
    this.dataset.id = item.id;
    this.dataset.status = item.status;
    this.classList.add("fp-task");
    if (signature === this.#signature) return;
    this.#signature = signature;
    this.render();
  }

  get lane() {
    return this.closest("fp-task-lane");
  }
  get isOpen() {
    return this.item.status === "open";
  }
  get canWork() {
    return !this.context?.readOnly;
  }

  /** Focus the first field of an open item, or the item itself. */
  focusItem() {
    const field = this.querySelector("textarea:not([disabled]), input:not([disabled])");
    if (field) field.focus();
    else {
      this.tabIndex = -1;
      this.focus();
    }
  }

  head(...extra) {
    return h(
      "div",
      { class: "fp-task__head" },
      h("p", { class: "fp-task__text", text: this.item.text }),
      ...extra,
      this.isOpen &&
        this.canWork &&
        h(
          "button",
          {
            type: "button",
            class: "fp-icon-btn fp-icon-btn--sm fp-task__dismiss",
            "data-action": "dismiss",
            "aria-label": `Dismiss: ${this.item.text}`,
            title: "Dismiss",
            onclick: (event) => this.#dismiss(event.currentTarget),
          },
          icon("x", "sm"),
        ),
    );
  }

  /** "Add to What We Know" for an answered/done item that produced no fact. */
  promoteButton() {
    if (this.context?.hasFact || !this.canWork) return null;
    return h(
      "button",
      {
        type: "button",
        class: "fp-btn fp-btn--ghost fp-btn--sm",
        "data-action": "promote",
        onclick: async (event) => {
          const button = event.currentTarget;
          button.setAttribute("aria-busy", "true");
          button.disabled = true;
          try {
            await this.lane.promote(this.item.id);
          } catch {
            button.disabled = false;
          } finally {
            button.removeAttribute("aria-busy");
          }
        },
      },
      icon("notebook", "sm"),
      "Add to What We Know",
    );
  }

  async #dismiss(button) {
    button.disabled = true;
    try {
      await this.lane.dismiss(this.item.id);
    } catch {
      button.disabled = false;
    }
  }

  /** Run `work` with the form busy; errors are shown in `error` (and returned). */
  async busy(form, submit, error, work) {
    form.setAttribute("aria-busy", "true");
    submit.setAttribute("aria-busy", "true");
    submit.disabled = true;
    error.hidden = true;
    try {
      await work();
      return null;
    } catch (err) {
      error.textContent = err.message || "Couldn't save.";
      error.hidden = false;
      return err;
    } finally {
      form.removeAttribute("aria-busy");
      submit.removeAttribute("aria-busy");
      submit.disabled = false;
    }
  }

  spinnerLabel(label) {
    return [h("span", { class: "fp-spinner fp-btn__spinner", "aria-hidden": "true" }), h("span", { text: label })];
  }
}

export class FpQuestionItem extends LaneItem {
  static tag = "fp-question-item";

  #draft = "";
  #changing = false;

  render() {
    const draftField = this.querySelector("textarea");
    if (draftField) this.#draft = draftField.value;
    if (this.item.status !== "open") this.#changing &&= this.item.status === "answered";
    const parts = [this.head()];
    if ((this.isOpen || this.#changing) && this.canWork) parts.push(this.#form());
    else if (this.item.answer) {
      parts.push(
        h(
          "div",
          { class: "fp-task__result" },
          h("span", { class: "fp-task__result-label", text: this.item.answered_via === "chat" ? "Answered in the chat" : "Answer" }),
          h("p", { class: "fp-task__answer", text: this.item.answer }),
        ),
      );
      const foot = [
        this.canWork &&
          h("button", {
            type: "button",
            class: "fp-btn fp-btn--ghost fp-btn--sm",
            "data-action": "change-answer",
            text: "Change answer",
            onclick: () => {
              this.#changing = true;
              this.#draft = this.item.answer || "";
              this.render();
              this.focusItem();
            },
          }),
        this.promoteButton(),
      ].filter(Boolean);
      if (foot.length) parts.push(h("div", { class: "fp-task__foot" }, foot));
    }
    this.replaceChildren(...parts);
  }

  #form() {
    const id = uniqueId("fp-answer");
    const field = h("textarea", {
      class: "fp-input fp-task__input",
      id,
      name: "answer",
      rows: "1",
      maxlength: "4000",
      "aria-label": `Answer: ${this.item.text}`,
      placeholder: "Type the answer…",
    });
    field.value = this.#draft;
    const error = h("p", { class: "fp-form-error", role: "alert", hidden: true });
    const submit = h(
      "button",
      { type: "submit", class: "fp-btn fp-btn--primary fp-btn--sm", "data-action": "answer" },
      icon("send", "sm"),
      h("span", { text: this.#changing ? "Save" : "Answer" }),
    );
    const quick = isYesNo(this.item.text)
      ? h(
          "div",
          { class: "fp-task__quick", role: "group", "aria-label": "Quick answer" },
          ["Yes", "No"].map((word) =>
            h("button", {
              type: "button",
              class: "fp-chip-btn",
              "data-quick": word.toLowerCase(),
              "aria-pressed": "false",
              text: word,
              onclick: () => {
                const rest = field.value.replace(/^\s*(yes|no)\b[,.:;]?\s*/i, "");
                field.value = rest ? `${word}, ${rest}` : word;
                syncQuick();
                field.focus();
                field.setSelectionRange(field.value.length, field.value.length);
                field.dispatchEvent(new Event("input"));
              },
            }),
          ),
        )
      : null;
    const syncQuick = () => {
      const first = (field.value.match(/^\s*(yes|no)\b/i) || [])[1]?.toLowerCase();
      for (const b of quick?.querySelectorAll("button") ?? []) b.setAttribute("aria-pressed", String(b.dataset.quick === first));
    };
    const form = h(
      "form",
      { class: "fp-task__form", novalidate: true },
      quick,
      h("div", { class: "fp-task__row" }, field, submit),
      error,
      !this.#changing &&
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--ghost fp-btn--sm fp-task__in-chat",
          "data-action": "answer-in-chat",
          text: "Answer in chat",
          onclick: () =>
            this.dispatchEvent(new CustomEvent("fp-answer-in-chat", { bubbles: true, detail: { id: this.item.id, text: this.item.text } })),
        }),
      this.#changing &&
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--ghost fp-btn--sm fp-task__cancel",
          text: "Cancel",
          onclick: () => {
            this.#changing = false;
            this.#draft = "";
            this.render();
          },
        }),
    );
    const send = async () => {
      const answer = field.value.trim();
      if (!answer) {
        error.textContent = quick ? "Type an answer, or pick Yes or No." : "Type an answer first.";
        error.hidden = false;
        field.focus();
        return;
      }
      const failed = await this.busy(form, submit, error, () => this.lane.answer(this.item.id, answer));
      if (!failed) {
        this.#draft = "";
        this.#changing = false;
        this.render();
        this.focusItem();
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    field.addEventListener("input", () => {
      syncQuick();
      error.hidden = true;
    });
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
    autosize(field, 160);
    syncQuick();
    return form;
  }
}

export class FpCheckItem extends LaneItem {
  static tag = "fp-check-item";

  #draft = "";
  #replacing = false;

  render() {
    const draftField = this.querySelector("textarea");
    if (draftField) this.#draft = draftField.value;
    const shell = this.item.shell ? SHELLS[this.item.shell] || this.item.shell : null;
    const working = (this.isOpen || this.#replacing) && this.canWork;
    const parts = [
      this.head(
        this.item.status === "done" && h("span", { class: "fp-badge fp-badge--success fp-task__badge" }, icon("check", "sm"), "Done"),
      ),
    ];
    if (this.isOpen || this.#replacing) {
      if (this.item.command) parts.push(codeBlock(this.item.command, shell));
      if (working) parts.push(this.#form());
    } else {
      const lines = String(this.item.output || "")
        .replace(/\s+$/, "")
        .split(/\r\n|\r|\n/).length;
      parts.push(
        h(
          "details",
          { class: "fp-task__output" },
          h("summary", {}, icon("chevron-right", "sm"), h("span", { text: `Output · ${lines} line${lines === 1 ? "" : "s"}` })),
          this.item.command &&
            h(
              "div",
              { class: "fp-task__output-part" },
              h("span", { class: "fp-task__result-label", text: "Command" }),
              codeBlock(this.item.command, shell),
            ),
          h(
            "div",
            { class: "fp-task__output-part" },
            h("span", { class: "fp-task__result-label", text: "Output" }),
            h("pre", { class: "fp-code fp-code--output" }, h("code", { text: this.item.output || "" })),
          ),
        ),
      );
      const foot = [
        this.canWork &&
          this.item.kind === "check" &&
          h("button", {
            type: "button",
            class: "fp-btn fp-btn--ghost fp-btn--sm",
            "data-action": "replace-output",
            text: "Replace output",
            onclick: () => {
              this.#replacing = true;
              this.render();
              this.focusItem();
            },
          }),
        this.promoteButton(),
      ].filter(Boolean);
      if (foot.length) parts.push(h("div", { class: "fp-task__foot" }, foot));
    }
    this.replaceChildren(...parts);
  }

  #form() {
    const id = uniqueId("fp-output");
    const counterId = uniqueId("fp-output-size");
    const field = h("textarea", {
      class: "fp-textarea fp-task__output-input",
      id,
      name: "output",
      rows: "3",
      spellcheck: "false",
      autocomplete: "off",
      "aria-describedby": counterId,
      placeholder: "Paste what the command printed…",
    });
    field.value = this.#draft;
    const counter = h("span", { class: "fp-task__counter", id: counterId });
    const error = h("p", { class: "fp-form-error", role: "alert", hidden: true, "data-error": "output" });
    const submit = h(
      "button",
      { type: "submit", class: "fp-btn fp-btn--primary fp-btn--sm", "data-action": "record-output" },
      icon("check", "sm"),
      h("span", { text: "Record output" }),
    );
    const form = h(
      "form",
      { class: "fp-task__form", novalidate: true },
      h("label", { class: "fp-task__label", for: id, text: "Output" }),
      field,
      h(
        "div",
        { class: "fp-task__bar" },
        counter,
        this.#replacing &&
          h("button", {
            type: "button",
            class: "fp-btn fp-btn--ghost fp-btn--sm",
            text: "Cancel",
            onclick: () => {
              this.#replacing = false;
              this.#draft = "";
              this.render();
            },
          }),
        submit,
      ),
      error,
    );
    const count = () => {
      const size = byteLength(field.value);
      counter.textContent = `${formatBytes(size)} of 64 KB`;
      counter.dataset.level = size > MAX_OUTPUT_BYTES ? "over" : size > MAX_OUTPUT_BYTES * 0.9 ? "near" : "";
    };
    const send = async () => {
      const output = field.value;
      if (!output.trim()) {
        error.textContent = "Paste the command's output first.";
        error.hidden = false;
        field.focus();
        return;
      }
      const failed = await this.busy(form, submit, error, () => this.lane.recordOutput(this.item.id, output));
      if (failed) {
        field.setAttribute("aria-invalid", "true");
      } else {
        this.#draft = "";
        this.#replacing = false;
        this.render();
        this.focusItem();
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    field.addEventListener("input", () => {
      count();
      error.hidden = true;
      field.removeAttribute("aria-invalid");
    });
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        send();
      }
    });
    count();
    return form;
  }
}

/** A command in a monospace block with a Copy button. */
export function codeBlock(command, shellLabel) {
  const copy = h(
    "button",
    { type: "button", class: "fp-btn fp-btn--ghost fp-btn--sm fp-code__copy", "data-action": "copy", "aria-label": "Copy command" },
    icon("copy", "sm"),
    h("span", { text: "Copy" }),
  );
  copy.addEventListener("click", async () => {
    const ok = await copyText(command);
    const label = copy.querySelector("span");
    label.textContent = ok ? "Copied" : "Copy failed";
    copy.dataset.copied = ok ? "true" : "false";
    if (!ok) toast({ tone: "warning", title: "Couldn't copy", message: "Select the command and copy it by hand." });
    setTimeout(() => {
      label.textContent = "Copy";
      delete copy.dataset.copied;
    }, 1600);
  });
  return h(
    "div",
    { class: "fp-code-block" },
    h("div", { class: "fp-code-block__bar" }, h("span", { class: "fp-code-block__lang", text: shellLabel || "Command" }), copy),
    h("pre", { class: "fp-code" }, h("code", { text: command })),
  );
}

export class FpActionItem extends LaneItem {
  static tag = "fp-action-item";

  render() {
    const parts = [
      this.head(
        this.item.status === "done" && h("span", { class: "fp-badge fp-badge--success fp-task__badge" }, icon("check", "sm"), "Done"),
      ),
    ];
    if (this.isOpen && this.canWork) {
      const field = h("textarea", {
        class: "fp-input fp-task__input",
        rows: "1",
        name: "result",
        "aria-label": `Result: ${this.item.text}`,
        placeholder: "What happened? (optional)",
      });
      const error = h("p", { class: "fp-form-error", role: "alert", hidden: true });
      const submit = h(
        "button",
        { type: "submit", class: "fp-btn fp-btn--sm", "data-action": "mark-done" },
        icon("check", "sm"),
        h("span", { text: "Mark done" }),
      );
      const form = h("form", { class: "fp-task__form", novalidate: true }, h("div", { class: "fp-task__row" }, field, submit), error);
      const send = () => this.busy(form, submit, error, () => this.lane.recordOutput(this.item.id, field.value.trim()));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        send();
      });
      field.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          send();
        }
      });
      autosize(field, 120);
      parts.push(form);
    } else if (this.item.output) {
      parts.push(
        h(
          "div",
          { class: "fp-task__result" },
          h("span", { class: "fp-task__result-label", text: "Result" }),
          h("p", { class: "fp-task__answer", text: this.item.output }),
        ),
      );
    }
    this.replaceChildren(...parts);
  }
}

/** Open items first, then answered/done ones; dismissed items are not shown. */
function visible(items) {
  const list = Array.isArray(items) ? items.filter((i) => i && i.status !== "dismissed") : [];
  return [...list.filter((i) => i.status === "open" || !i.status), ...list.filter((i) => i.status && i.status !== "open")];
}

class ItemSection extends FpLaneSection {
  /** Render lane items of this section; `context(item)` gives {readOnly, hasFact}. */
  setLaneItems(items, context = () => ({})) {
    const shown = visible(items);
    this.reconcile(shown, {
      create: (item) => {
        const el = h(this.constructor.itemTag);
        el.update(item, context(item));
        return el;
      },
      update: (el, item) => el.update(item, context(item)),
    });
    this.setCount(shown.filter((i) => i.status === "open" || !i.status).length);
    this.count.setAttribute("aria-label", `${this.count.textContent} open`);
    return shown;
  }
}

export class FpQuestions extends ItemSection {
  static itemTag = "fp-question-item";
  static tag = "fp-questions";
}

export class FpDiagnosticChecks extends ItemSection {
  static itemTag = "fp-check-item";
  static tag = "fp-diagnostic-checks";
}

export class FpLaneActions extends ItemSection {
  static itemTag = "fp-action-item";
  static tag = "fp-lane-actions";

  setLaneItems(items, context) {
    const shown = super.setLaneItems(items, context);
    this.hidden = shown.length === 0;
    return shown;
  }
}
