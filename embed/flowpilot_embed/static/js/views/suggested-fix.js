// <fp-suggested-fix> — the task lane's Suggested fix section: the session's active fix as a card
// (title, root cause, steps, the facts it rests on as links to What We Know, the decision actions)
// and the fixes it superseded folded away under "Earlier fixes". "Generate script" asks the session view to
// open the inline script generator ("fp-open-script"). The section renders what the
// SessionStore holds (store.fix, store.fixHistory); <fp-task-lane> makes the decision write.
import { append, h } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState } from "../components/ui.js";
import { renderMarkdown } from "../markdown.js";
import { FpLaneSection } from "./lane-section.js";

/** The four decisions the API takes: the card shows them once made and offers Dismiss; the script generator makes the other three. */
export const DECISIONS = [
  { value: "one_off", label: "Run as a one-off", done: "Running as a one-off" },
  { value: "draft_template", label: "Run now, template later", done: "Run now, templatize after resolving" },
  { value: "build_template", label: "Build a template", done: "Building a template" },
  { value: "dismissed", label: "Dismiss", done: "Dismissed" },
];

export class FpSuggestedFix extends FpLaneSection {
  static tag = "fp-suggested-fix";

  #changing = false; // "Change decision" reopened the actions on a decided fix
  #historyOpen = false;

  /**
   * Show `fix` (or the empty state) and the fixes before it. `context`: `readOnly` (a closed session:
   * no decisions), `factOf(id)` → the live fact or null, `onDecide(fix, decision)` → a promise.
   */
  setFix(fix, history, context) {
    const earlier = history.filter((f) => f.id !== fix?.id);
    if (!fix && !earlier.length) {
      this.setItems([]);
      return;
    }
    this.setCount(0);
    const empty = () => emptyState({ variant: "inline", title: this.getAttribute("empty-title"), body: this.getAttribute("empty-body") });
    this.setContent(fix ? this.#card(fix, context) : empty(), earlier.length ? this.#history(earlier, !fix) : null);
    this.dataset.state = fix ? "filled" : "empty";
  }

  /** The card of the active fix, for focusing it from a preview line. */
  get card() {
    return this.body.querySelector(".fp-fix");
  }

  #card(fix, context) {
    const facts = fix.fact_ids.map((id) => ({ id, fact: context.factOf(id) }));
    return h(
      "article",
      {
        class: "fp-task fp-fix",
        "data-fix-id": fix.id,
        "data-decision": fix.user_decision || "",
        "data-status": fix.user_decision ? "done" : "open", // .fp-task: a decided fix is shown settled
        "aria-label": `Suggested fix: ${fix.title}`,
      },
      h("h3", { class: "fp-fix__title", text: fix.title }),
      h(
        "div",
        { class: "fp-fix__part" },
        h("p", { class: "fp-task__result-label", text: "Root cause" }),
        h("p", { class: "fp-fix__root-cause", text: fix.root_cause || "Not stated." }),
      ),
      fix.body &&
        h(
          "div",
          { class: "fp-fix__part" },
          h("p", { class: "fp-task__result-label", text: "Steps" }),
          h("div", { class: "fp-fix__steps fp-message__body" }, renderMarkdown(fix.body)),
        ),
      h(
        "div",
        { class: "fp-fix__part" },
        h("p", { class: "fp-task__result-label", text: "Based on" }),
        facts.length
          ? h(
              "ul",
              { class: "fp-fix__facts", role: "list" },
              facts.map(({ id, fact }) => h("li", {}, this.#factLink(id, fact))),
            )
          : h("p", { class: "fp-help", text: "No fact was cited for this fix." }),
      ),
      this.#decision(fix, context),
    );
  }

  /**
   * "Generate script": <fp-session-view> opens the inline generator for this fix ("fp-open-script"). The
   * script decisions (one-off, templatize after resolve, build a template) are made there, in the
   * no-template dialog, because each of them writes a script.
   */
  #scriptButton(fix, primary) {
    return h(
      "button",
      {
        type: "button",
        class: `fp-btn fp-btn--sm${primary ? " fp-btn--primary" : ""}`,
        "data-action": "open-script",
        "aria-haspopup": "dialog",
        "aria-keyshortcuts": "Control+G Meta+G",
        title: "Generate a script for this fix from a template, or write one",
        onclick: (event) =>
          this.dispatchEvent(new CustomEvent("fp-open-script", { bubbles: true, detail: { fixId: fix.id, trigger: event.currentTarget } })),
      },
      icon("script", "sm"),
      "Generate script",
    );
  }

  #factLink(id, fact) {
    if (!fact) return h("span", { class: "fp-fix__fact fp-fix__fact--gone", text: "A fact no longer in What We Know" });
    return h(
      "button",
      {
        type: "button",
        class: "fp-fix__fact fp-fact__source-link",
        "data-fact-id": id,
        onclick: () => this.dispatchEvent(new CustomEvent("fp-focus-item", { bubbles: true, detail: { id } })),
      },
      icon("notebook", "sm"),
      h("span", { text: fact.text }),
    );
  }

  #decision(fix, context) {
    const decided = DECISIONS.find((d) => d.value === fix.user_decision);
    const row = h("div", { class: "fp-fix__decision" });
    if (decided && (!this.#changing || context.readOnly)) {
      // append() skips `false` (a read-only session has no "Change decision"); Element.append would print it.
      append(row, [
        h("span", { class: `fp-badge ${decided.value === "dismissed" ? "" : "fp-badge--success"}`, text: decided.done }),
        !context.readOnly && decided.value !== "dismissed" && this.#scriptButton(fix, false),
        !context.readOnly &&
          h("button", {
            type: "button",
            class: "fp-btn fp-btn--ghost fp-btn--sm",
            "data-action": "change-decision",
            text: "Change decision",
            onclick: () => {
              this.#changing = true;
              row.replaceWith(this.#decision(fix, context));
              this.card?.querySelector(".fp-fix__actions button")?.focus();
            },
          }),
      ]);
      return row;
    }
    if (context.readOnly) {
      row.append(h("span", { class: "fp-help", text: "No decision was recorded." }));
      return row;
    }
    const error = h("p", { class: "fp-form-error", hidden: true, role: "alert" });
    const dismiss = DECISIONS.filter((d) => d.value === "dismissed");
    const buttons = dismiss.map((d) =>
      h("button", {
        type: "button",
        class: "fp-btn fp-btn--sm fp-btn--ghost",
        "data-decision-value": d.value,
        text: d.label,
        onclick: async () => {
          for (const b of buttons) b.disabled = true;
          error.hidden = true;
          try {
            await context.onDecide(fix, d.value);
            this.#changing = false;
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
            for (const b of buttons) b.disabled = false;
          }
        },
      }),
    );
    row.append(
      h(
        "div",
        { class: "fp-fix__actions", role: "group", "aria-label": "What to do with this fix" },
        this.#scriptButton(fix, true),
        buttons,
      ),
      error,
    );
    return row;
  }

  #history(earlier, noActive) {
    // The card is rebuilt whenever the facts change: an "Earlier fixes" the technician opened stays open.
    const details = h("details", {
      class: "fp-fix__history",
      open: noActive || this.#historyOpen,
      ontoggle: () => {
        this.#historyOpen = details.open;
      },
    });
    return append(details, [
      h("summary", { text: `Earlier fixes (${earlier.length})` }),
      h(
        "ul",
        { class: "fp-fix__history-list", role: "list" },
        earlier.map((f) =>
          h(
            "li",
            { "data-fix-id": f.id },
            h("span", { class: "fp-fix__history-title", text: f.title }),
            h("span", { class: "fp-badge", text: f.status === "superseded" ? "Superseded" : "Earlier" }),
            f.root_cause && h("span", { class: "fp-help", text: f.root_cause }),
          ),
        ),
      ),
    ]);
  }
}
