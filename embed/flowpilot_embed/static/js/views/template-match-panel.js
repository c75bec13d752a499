// <fp-template-match-panel> — the account's templates that fit the active fix, best first (GET
// …/suggested-fixes/{fix}/template-matches): each with its score and why each matcher chose it. Picking
// one emits "fp-template-picked" {templateId, match}; "None of these fit" emits "fp-no-template".
import { FpElement } from "../components/fp-element.js";
import { h, uniqueId, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { languageLabel } from "./parameterization-preview.js";

const percent = (score) => `${Math.round(Math.max(0, Math.min(1, score)) * 100)}%`;

export class FpTemplateMatchPanel extends FpElement {
  static tag = "fp-template-match-panel";

  /** Show `result` (the template-matches response, with at least one match). */
  setMatches(result) {
    this.classList.add("fp-matches");
    const headingId = uniqueId("fp-matches-title");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", headingId);
    const count = result.matches.length;
    replace(
      this,
      h("h3", {
        class: "fp-matches__title",
        id: headingId,
        text: `${count === 1 ? "1 template fits" : `${count} templates fit`} this fix`,
      }),
      h("p", {
        class: "fp-help",
        text: `Best first, of ${result.templates_considered} template${result.templates_considered === 1 ? "" : "s"} in your library. Pick one to fill in its parameters.`,
      }),
      h(
        "ul",
        { class: "fp-matches__list", role: "list" },
        result.matches.map((match, index) => h("li", {}, this.#match(match, index === 0))),
      ),
      h(
        "div",
        { class: "fp-matches__none" },
        h("button", {
          type: "button",
          class: "fp-btn fp-btn--ghost fp-btn--sm",
          "data-action": "no-template",
          text: "None of these fit: script without a template",
          onclick: () => this.dispatchEvent(new CustomEvent("fp-no-template", { bubbles: true })),
        }),
      ),
    );
  }

  #match(match, best) {
    const reasonsId = uniqueId("fp-match-why");
    return h(
      "button",
      {
        type: "button",
        class: "fp-match",
        "data-template-id": match.template_id,
        "aria-describedby": reasonsId,
        onclick: () =>
          this.dispatchEvent(new CustomEvent("fp-template-picked", { bubbles: true, detail: { templateId: match.template_id, match } })),
      },
      h(
        "span",
        { class: "fp-match__head" },
        icon("script", "sm"),
        h("span", { class: "fp-match__name", text: match.name }),
        h("span", { class: "fp-badge fp-badge--outline", text: languageLabel(match.language) }),
        best && h("span", { class: "fp-badge fp-badge--accent", text: "Best match" }),
        h("span", { class: "fp-match__score", "data-score": String(match.score), text: `Score ${percent(match.score)}` }),
      ),
      match.description && h("span", { class: "fp-match__description", text: match.description }),
      h(
        "span",
        { class: "fp-match__reasons", id: reasonsId },
        match.reasons.map((r) =>
          h("span", { class: "fp-match__reason", "data-matcher": r.matcher }, `Why (${r.matcher}, ${percent(r.score)}): `, r.reason),
        ),
      ),
    );
  }
}

FpTemplateMatchPanel.define();
