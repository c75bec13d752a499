// The inline script generator: a modal dialog opened from the suggested fix (its "Generate script"
// button, Cmd/Ctrl+G, the palette's "script" command). It reads the templates that fit the fix
// (GET …/suggested-fixes/{fix}/template-matches) and shows them in <fp-template-match-panel>; picking
// one reads the template and its prefill, shows the parameter form beside <fp-parameterization-preview>
// (the body with the form's values, live), and "Generate" renders it (POST …/script-generations, which
// stores the generation: the resolution note then names it). When nothing fits (or the technician says
// none of them do) the dialog becomes the NoTemplateDialog (no-template-dialog.js).
// FlowPilot never runs a script: the result is for Copy and Download.
import { api } from "../api.js";
import { h, uniqueId, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, runDialog, skeleton } from "../components/ui.js";
import { FpParameterizationPreview, languageLabel, unknownCommandsWarning } from "./parameterization-preview.js";
import { FpTemplateMatchPanel } from "./template-match-panel.js";
import { parameterForm } from "./parameter-form.js";
import { noTemplateView } from "./no-template-dialog.js";

FpParameterizationPreview.define();
FpTemplateMatchPanel.define();

/**
 * Open the generator for `fix` of `store`'s session; `templateId` goes straight to that template's
 * parameters. Resolves when the dialog closes.
 */
export function openScriptGenerator(store, fix, { templateId = null, trigger = document.activeElement } = {}) {
  const titleId = uniqueId("fp-gen-title");
  const title = h("h2", { class: "fp-dialog__title", id: titleId, tabindex: "-1", text: "Script for this fix" });
  const subtitle = h("p", { class: "fp-dialog__subtitle", text: fix.title });
  const body = h("div", { class: "fp-dialog__body fp-generator__body" });
  const footer = h("div", { class: "fp-dialog__footer" });
  const dialog = h(
    "dialog",
    { class: "fp-dialog fp-dialog--wide fp-generator", "aria-labelledby": titleId, "data-dialog": "script-generator" },
    h(
      "div",
      { class: "fp-dialog__header" },
      h("div", { class: "fp-dialog__heading" }, title, subtitle),
      h("button", { type: "button", class: "fp-icon-btn", "aria-label": "Close", onclick: () => dialog.close("cancel") }, icon("x")),
    ),
    body,
    footer,
  );
  const abort = new AbortController();
  let matches = null; // the match response, once read (Back returns to it)

  const closeButton = (text = "Cancel") =>
    h("button", {
      type: "button",
      class: "fp-btn fp-btn--ghost",
      "data-action": "close-generator",
      text,
      onclick: () => dialog.close("done"),
    });

  /** Show a step: `view` names it (data-view), its heading is focused so a screen reader hears the change. */
  function step(view, heading, nodes, buttons, { focus = true } = {}) {
    dialog.dataset.view = view;
    title.textContent = heading;
    body.removeAttribute("aria-busy");
    replace(body, ...nodes.filter(Boolean));
    replace(footer, ...buttons.filter(Boolean));
    if (focus) title.focus();
  }

  function loading(view, heading, text) {
    step(view, heading, [h("p", { class: "fp-help", role: "status", text }), skeleton({ lines: 4, title: true })], [closeButton()], {
      focus: false,
    });
    body.setAttribute("aria-busy", "true");
  }

  function failed(view, heading, what, error, retry) {
    step(
      view,
      heading,
      [
        emptyState({
          variant: "compact",
          icon: "alert-circle",
          title: what,
          body: error.message,
          actions: [h("button", { type: "button", class: "fp-btn fp-btn--sm", "data-action": "retry", text: "Try again", onclick: retry })],
        }),
      ],
      [closeButton()],
    );
  }

  async function loadMatches() {
    loading("matching", "Script for this fix", "Looking for templates in your library that fit this fix…");
    try {
      matches = await api(store.url(`/suggested-fixes/${encodeURIComponent(fix.id)}/template-matches`), { signal: abort.signal });
    } catch (error) {
      if (error.name !== "AbortError") failed("matching", "Script for this fix", "Couldn't look for templates", error, loadMatches);
      return;
    }
    if (matches.matches.length) showMatches();
    else showNoTemplate();
  }

  function showMatches() {
    const panel = h("fp-template-match-panel");
    panel.setMatches(matches);
    panel.addEventListener("fp-template-picked", (event) => showTemplate(event.detail.templateId));
    panel.addEventListener("fp-no-template", () => showNoTemplate());
    step("matches", "Pick a template", [panel], [closeButton()]);
  }

  function showNoTemplate() {
    const view = noTemplateView(store, fix, {
      templatesConsidered: matches?.templates_considered ?? null,
      hadMatches: Boolean(matches?.matches.length),
      useTemplate: (id) => showTemplate(id),
      signal: abort.signal,
    });
    step(
      "no-template",
      matches?.matches.length ? "Script without a template" : "No template fits this fix",
      [view.element],
      [matches?.matches.length && backButton(showMatches), closeButton("Close")],
    );
  }

  const backButton = (to) =>
    h("button", { type: "button", class: "fp-btn fp-btn--ghost", "data-action": "back", onclick: to }, icon("arrow-left", "sm"), "Back");

  /** Ask the model about the parameters still empty (GET …/prefill?suggest=true); what was typed stays. */
  async function suggest(template, form, button, status) {
    button.disabled = true;
    status.textContent = "FlowPilot is reading the facts and the ticket for the empty values…";
    const before = new Set(form.askable.map((v) => v.name));
    let prefill;
    try {
      prefill = await api(store.url(`/script-templates/${encodeURIComponent(template.id)}/prefill?suggest=true`), { signal: abort.signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      status.textContent = `FlowPilot couldn't suggest values: ${error.message}`;
      return;
    }
    const found = prefill.values.filter((v) => before.has(v.name) && v.source?.kind === "ai").length;
    renderParameters(template, prefill, {
      keep: form.typed(),
      message: found
        ? `FlowPilot found ${found === 1 ? "1 value" : `${found} values`} in the facts and the ticket: check ${found === 1 ? "it" : "them"} below.`
        : "FlowPilot found no value for them in the facts or the ticket: type them.",
    });
  }

  async function showTemplate(id) {
    loading("parameters", "Fill in the parameters", "Reading the template and what the session knows…");
    let template;
    let prefill;
    try {
      [template, prefill] = await Promise.all([
        api(`/api/v1/script-templates/${encodeURIComponent(id)}`, { signal: abort.signal }),
        api(store.url(`/script-templates/${encodeURIComponent(id)}/prefill`), { signal: abort.signal }),
      ]);
    } catch (error) {
      if (error.name !== "AbortError")
        failed("parameters", "Fill in the parameters", "Couldn't read the template", error, () => showTemplate(id));
      return;
    }
    renderParameters(template, prefill);
  }

  function renderParameters(template, prefill, { keep = {}, message = "" } = {}) {
    const preview = h("fp-parameterization-preview", { "data-template-id": template.id });
    const status = h("p", { class: "fp-generator__status", role: "status" });
    const form = parameterForm(prefill, template.parameter_schema, {
      keep,
      onInput: () => {
        status.textContent = "";
        preview.showTemplate(template, form.display());
        generate.hidden = false;
        edit.hidden = true;
      },
    });
    const missing = prefill.missing_required;
    const generate = h(
      "button",
      { type: "button", class: "fp-btn fp-btn--primary", "data-action": "generate" },
      icon("sparkle", "sm"),
      "Generate",
    );
    const edit = h("button", {
      type: "button",
      class: "fp-btn",
      "data-action": "edit-values",
      hidden: true,
      text: "Change values",
      onclick: () => {
        preview.showTemplate(template, form.display());
        edit.hidden = true;
        generate.hidden = false;
        form.element.querySelector("input, select")?.focus();
      },
    });
    generate.addEventListener("click", async () => {
      const invalid = form.check();
      if (invalid) {
        status.textContent = "Fill in the required values first.";
        invalid.focus();
        return;
      }
      generate.disabled = true;
      preview.showLoading("Rendering the script…");
      try {
        const generation = await store.write("/script-generations", {
          body: { template_id: template.id, suggested_fix_id: fix.id, parameters: form.values() },
        });
        preview.showScript(generation, {
          note: "Saved with this session: the resolution note names the script (sensitive values redacted). FlowPilot never runs it.",
        });
        status.textContent = "Script generated.";
        generate.hidden = true;
        edit.hidden = false;
        preview.querySelector("[data-action=copy-script]")?.focus();
      } catch (error) {
        preview.showTemplate(template, form.display());
        const first = form.showErrors(error.problem?.errors);
        status.textContent = first ? "Check the values marked below." : `Couldn't generate the script: ${error.message}`;
        first?.focus();
      } finally {
        generate.disabled = false;
      }
    });
    preview.showTemplate(template, form.display());
    const askable = form.askable;
    const suggestButton =
      askable.length > 0 &&
      !message &&
      h(
        "button",
        {
          type: "button",
          class: "fp-btn fp-btn--sm",
          "data-action": "suggest-values",
          onclick: (event) => suggest(template, form, event.currentTarget, status),
        },
        icon("sparkle", "sm"),
        `Ask FlowPilot for the ${askable.length === 1 ? "empty value" : `${askable.length} empty values`}`,
      );
    step(
      "parameters",
      template.name,
      [
        h(
          "div",
          { class: "fp-generator__template" },
          h("span", { class: "fp-badge fp-badge--outline", text: languageLabel(template.language) }),
          template.description && h("span", { class: "fp-help", text: template.description }),
        ),
        missing.length > 0 &&
          h("p", {
            class: "fp-generator__missing",
            "data-missing": missing.join(" "),
            text: `Nothing in the session names ${missing.length === 1 ? "1 required value" : `${missing.length} required values`}: type ${missing.length === 1 ? "it" : "them"} below.`,
          }),
        unknownCommandsWarning(template.unknown_commands, template.commands),
        suggestButton && h("div", { class: "fp-generator__suggest" }, suggestButton),
        h(
          "div",
          { class: "fp-generator__columns" },
          h("div", { class: "fp-generator__form" }, form.element),
          h("div", { class: "fp-generator__preview" }, h("h3", { class: "fp-overline", text: "Script" }), preview),
        ),
        status,
      ],
      [matches?.matches.length && backButton(showMatches), closeButton("Close"), edit, generate],
      { focus: !message },
    );
    if (message) {
      status.textContent = message;
      (form.element.querySelector("[data-source=ai]")?.closest(".fp-field")?.querySelector("input, select") || generate).focus();
    }
  }

  dialog.addEventListener("close", () => {
    abort.abort();
    setTimeout(() => dialog.remove(), 0);
    if (trigger?.isConnected) trigger.focus();
  });
  const closed = runDialog(dialog);
  if (templateId) showTemplate(templateId);
  else loadMatches();
  return closed;
}
