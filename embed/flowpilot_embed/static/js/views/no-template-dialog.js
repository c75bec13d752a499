// The NoTemplateDialog: what the script generator shows when no template fits the fix. Three options,
// each recorded on the fix (POST …/suggested-fixes/{fix}/no-template, which also does its side effects):
//   Run as one-off                     the model writes a script; it is stored as a generation
//   Run now, templatize after resolve  the same, plus a pending draft template FlowPilot offers after Resolve
//   Build as template now              the extraction opens the template editor; saving creates the template
//                                      (POST /api/v1/script-templates with source_session_id: its provenance)
// The fix the reply carries goes to the SessionStore, so the card shows the decision.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";
import { languageLabel, unknownCommandsWarning, LANGUAGES } from "./parameterization-preview.js";
import { templateEditor } from "./template-editor.js";

export const NO_TEMPLATE_OPTIONS = [
  {
    value: "one_off",
    title: "Run as one-off",
    body: "FlowPilot writes a script for this fix. It is kept with the session; nothing goes to the library.",
    busy: "FlowPilot is writing a script for this fix…",
  },
  {
    value: "draft_template",
    title: "Run now, templatize after resolve",
    body: "FlowPilot writes the script now and keeps a draft template of it. After you resolve, it asks whether to save it to the library.",
    busy: "FlowPilot is writing the script and drafting a template of it…",
  },
  {
    value: "build_template",
    title: "Build as template now",
    body: "FlowPilot writes the script and turns its values into parameters. You review the template and save it to the library.",
    busy: "FlowPilot is writing the script and finding its parameters…",
  },
];

/** Bubble "fp-scripts-changed" so the topbar re-reads the pending-drafts count. */
export const announceScriptsChanged = (from) =>
  (from?.isConnected ? from : document).dispatchEvent(new CustomEvent("fp-scripts-changed", { bubbles: true }));

/** A slug for a new template's name: the fix's title in Verb-Noun form. */
export function templateNameFor(fix) {
  const words = String(fix.title || "Script")
    .replace(/[^\w\s-]+/g, " ")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 6);
  return words.map((w) => w[0].toUpperCase() + w.slice(1)).join("-") || "Script";
}

export function noTemplateView(store, fix, { templatesConsidered = null, hadMatches = false, useTemplate, signal }) {
  const element = h("div", { class: "fp-no-template", "data-no-template": "" });
  const language = h(
    "select",
    { id: "fp-no-template-language", class: "fp-input fp-select", "data-field": "language" },
    Object.entries(LANGUAGES).map(([value, l]) => h("option", { value, text: l.label })),
  );

  function showOptions() {
    element.dataset.state = "options";
    const intro = hadMatches
      ? "Pick how FlowPilot should write the script instead."
      : templatesConsidered
        ? `None of the ${templatesConsidered} template${templatesConsidered === 1 ? "" : "s"} in your library fits this fix.`
        : "Your script library has no templates yet.";
    replace(
      element,
      h("p", { class: "fp-help", text: intro }),
      h(
        "div",
        { class: "fp-field fp-no-template__language" },
        h("label", { class: "fp-label", for: language.id, text: "Language" }),
        language,
      ),
      h(
        "ul",
        { class: "fp-no-template__options", role: "list", "aria-label": "What to do without a template" },
        NO_TEMPLATE_OPTIONS.map((option) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "fp-option", "data-option": option.value, onclick: () => choose(option) },
              h("span", { class: "fp-option__title", text: option.title }),
              h("span", { class: "fp-option__body", text: option.body }),
            ),
          ),
        ),
      ),
    );
  }

  async function choose(option) {
    element.dataset.state = "working";
    element.setAttribute("aria-busy", "true");
    replace(element, h("p", { class: "fp-help", role: "status", text: option.busy }), skeleton({ lines: 5, block: true }));
    let outcome;
    try {
      outcome = await store.write(`/suggested-fixes/${encodeURIComponent(fix.id)}/no-template`, {
        body: { decision: option.value, language: language.value },
      });
    } catch (error) {
      element.removeAttribute("aria-busy");
      element.dataset.state = "error";
      replace(
        element,
        emptyState({
          variant: "compact",
          icon: "alert-circle",
          title: error.status === 409 ? "This fix changed" : "FlowPilot couldn't write the script",
          body: error.message,
          actions: [
            h("button", {
              type: "button",
              class: "fp-btn fp-btn--sm",
              "data-action": "retry",
              text: "Try again",
              onclick: () => choose(option),
            }),
            h("button", { type: "button", class: "fp-btn fp-btn--sm fp-btn--ghost", text: "Back to the options", onclick: showOptions }),
          ],
        }),
      );
      element.querySelector("[data-action=retry]")?.focus();
      return;
    }
    element.removeAttribute("aria-busy");
    if (outcome.fix) store.setFix(outcome.fix);
    store.reloadFixes().catch(() => {}); // the decision is shown already; a failed re-read changes nothing
    if (option.value === "build_template") return showEditor(outcome.extraction);
    showGenerated(option, outcome);
  }

  function showGenerated(option, outcome) {
    element.dataset.state = option.value;
    const preview = h("fp-parameterization-preview");
    const draft = outcome.draft;
    const count = draft?.parameter_schema?.parameters?.length ?? 0;
    preview.showScript(outcome.generation, {
      note: "Saved with this session as a one-off: the resolution note names it. FlowPilot never runs it.",
    });
    replace(
      element,
      h(
        "p",
        { class: "fp-no-template__done", role: "status" },
        icon("check-circle", "sm"),
        h("span", { text: draft ? "Script written, and a draft template kept for after you resolve." : "Script written as a one-off." }),
      ),
      draft &&
        h(
          "div",
          { class: "fp-no-template__draft", "data-draft-id": draft.id },
          icon("info", "sm"),
          h("span", {
            text: `When you resolve this session, FlowPilot asks whether to save “${draft.name}” to your script library (${count === 1 ? "1 parameter" : `${count} parameters`} found).`,
          }),
        ),
      preview,
    );
    if (draft) announceScriptsChanged(element);
    preview.querySelector("[data-action=copy-script]")?.focus();
  }

  function showEditor(extraction) {
    element.dataset.state = "editor";
    const literals = extraction.literals || [];
    const editor = templateEditor({
      initial: {
        name: templateNameFor(fix),
        description: fix.title,
        language: extraction.language,
        body: extraction.body,
        parameter_schema: extraction.parameter_schema,
      },
      submitLabel: "Save to the library",
      onSubmit: async (payload) => {
        const template = await api("/api/v1/script-templates", {
          method: "POST",
          body: { ...payload, source_session_id: store.id },
        });
        announceScriptsChanged(element);
        showSaved(template);
      },
    });
    replace(
      element,
      h("p", {
        class: "fp-help",
        text: `FlowPilot wrote a ${languageLabel(extraction.language)} script and found ${literals.length === 1 ? "1 value" : `${literals.length} values`} to make parameters of. Review them, then save.`,
      }),
      unknownCommandsWarning(extraction.unknown_commands, extraction.commands),
      literals.length > 0 &&
        h(
          "ul",
          { class: "fp-no-template__literals", role: "list", "aria-label": "Values that became parameters" },
          literals.map((l) =>
            h(
              "li",
              {},
              h("code", { text: `{{ ${l.parameter} }}` }),
              ` ${l.kind.replaceAll("_", " ")} on line ${l.line}`,
              l.value === null ? " (secret: not shown)" : h("span", { class: "fp-help", text: ` was ${l.value}` }),
            ),
          ),
        ),
      editor.element,
    );
    editor.focus();
  }

  function showSaved(template) {
    element.dataset.state = "saved";
    const use = h(
      "button",
      { type: "button", class: "fp-btn fp-btn--primary", "data-action": "use-template", onclick: () => useTemplate(template.id) },
      icon("sparkle", "sm"),
      "Fill in its parameters",
    );
    replace(
      element,
      h(
        "p",
        { class: "fp-no-template__done", role: "status", "data-template-id": template.id },
        icon("check-circle", "sm"),
        h("span", { text: `“${template.name}” is in your script library, linked to this session.` }),
      ),
      h("div", { class: "fp-no-template__next" }, use),
    );
    use.focus();
  }

  if (signal) signal.addEventListener("abort", () => replace(element), { once: true });
  showOptions();
  return { element };
}
