// <fp-templatize-prompt> — after a successful Resolve, the offer to turn the session's one-off script
// into a template. It asks the server (GET …/templatize-prompt), which says `show` only when the account
// allows the prompt, the session has pending drafts and the technician chose "Run now, templatize after
// resolve"; otherwise the element stays hidden. For each pending draft: "Review and save" opens the
// template editor with the draft (name, description, tags, body, parameters) and saves it with
// POST /api/v1/draft-templates/{id}/accept (a template with the session's provenance); "Skip" and
// "Don't ask me again for this team" post …/skip (the latter with dont_ask_again: true).
import { FpElement } from "../components/fp-element.js";
import { api } from "../api.js";
import { h, uniqueId, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { skeleton } from "../components/ui.js";
import { languageLabel } from "./parameterization-preview.js";
import { templateEditor } from "./template-editor.js";
import { announceScriptsChanged } from "./no-template-dialog.js";
import { SCRIPTS_PATH } from "./script-library.js";

export class FpTemplatizePrompt extends FpElement {
  static tag = "fp-templatize-prompt";

  store = null;
  #loaded = false;

  /** Ask the server for `store`'s session (once: re-attaching the same element keeps what it shows). */
  async attach(store) {
    if (this.#loaded && this.store === store) return;
    this.store = store;
    this.#loaded = true;
    this.classList.add("fp-templatize");
    this.dataset.state = "loading";
    this.setAttribute("aria-busy", "true");
    replace(this, h("p", { class: "fp-help", text: "Checking for scripts to save as templates…" }), skeleton({ lines: 2 }));
    let prompt;
    try {
      prompt = await api(store.url("/templatize-prompt"), { signal: store.signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      this.removeAttribute("aria-busy");
      this.dataset.state = "error";
      replace(this, h("p", { class: "fp-form-error", role: "alert", text: `Couldn't check for draft templates: ${error.message}` }));
      return;
    }
    this.removeAttribute("aria-busy");
    if (!prompt.show || !prompt.drafts.length) {
      this.dataset.state = "hidden";
      this.hidden = true;
      replace(this);
      return;
    }
    this.hidden = false;
    this.dataset.state = "shown";
    const headingId = uniqueId("fp-templatize-title");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", headingId);
    replace(
      this,
      h("h3", { class: "fp-templatize__title", id: headingId, tabindex: "-1" }, icon("script", "sm"), "Save the script as a template?"),
      ...prompt.drafts.map((draft) => this.#draft(draft)),
    );
  }

  #draft(draft) {
    const box = h("div", { class: "fp-templatize__draft", "data-draft-id": draft.id });
    const count = draft.parameter_schema?.parameters?.length ?? 0;
    const error = h("p", { class: "fp-form-error", role: "alert", hidden: true });

    const decide = async (button, path, body, done) => {
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      error.hidden = true;
      try {
        await api(`/api/v1/draft-templates/${encodeURIComponent(draft.id)}/${path}`, { method: "POST", body });
        announceScriptsChanged(this);
        settled(done);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        for (const b of box.querySelectorAll("button")) b.disabled = false;
        button.focus();
      }
    };
    const settled = (...nodes) => {
      box.dataset.state = "decided";
      const status = h("p", { class: "fp-templatize__done", role: "status", tabindex: "-1" }, ...nodes.flat());
      replace(box, status);
      status.focus();
    };

    const options = () => {
      box.dataset.state = "offer";
      const review = h(
        "button",
        { type: "button", class: "fp-btn fp-btn--primary fp-btn--sm", "data-action": "review-draft", onclick: () => editor() },
        icon("pencil", "sm"),
        "Review and save",
      );
      const skip = h("button", {
        type: "button",
        class: "fp-btn fp-btn--sm",
        "data-action": "skip-draft",
        text: "Skip",
        onclick: () => decide(skip, "skip", {}, [h("span", { text: "Skipped: no template was saved." })]),
      });
      const never = h("button", {
        type: "button",
        class: "fp-btn fp-btn--ghost fp-btn--sm",
        "data-action": "dont-ask-again",
        text: "Don't ask me again for this team",
        onclick: () =>
          decide(never, "skip", { dont_ask_again: true }, [
            h("span", {
              text: "FlowPilot won't offer this again for your team. An administrator can turn it back on in the account settings.",
            }),
          ]),
      });
      replace(
        box,
        h(
          "p",
          { class: "fp-help" },
          `You ran “${draft.name}” (${languageLabel(draft.language)}) in this session. Saved as a template, the next ticket like this one gets it with its ${count === 1 ? "parameter" : `${count} parameters`} filled in.`,
        ),
        h("pre", { class: "fp-code fp-templatize__body", tabindex: "0", "aria-label": `Body of ${draft.name}`, text: draft.body }),
        h(
          "div",
          { class: "fp-templatize__actions", role: "group", "aria-label": `Save ${draft.name} as a template?` },
          review,
          skip,
          never,
        ),
        error,
      );
    };

    const editor = () => {
      box.dataset.state = "editing";
      const form = templateEditor({
        initial: draft,
        submitLabel: "Save template",
        onCancel: () => {
          options();
          box.querySelector("[data-action=review-draft]")?.focus();
        },
        onSubmit: async ({ language: _language, ...edits }) => {
          const template = await api(`/api/v1/draft-templates/${encodeURIComponent(draft.id)}/accept`, { method: "POST", body: edits });
          announceScriptsChanged(this);
          settled(
            icon("check-circle", "sm"),
            h("span", { text: `Saved “${template.name}” to your script library. ` }),
            h("a", {
              href: `${SCRIPTS_PATH}${location.search}`,
              class: "fp-templatize__link",
              "data-action": "open-library",
              "data-template-id": template.id,
              text: "Open it in the library",
              onclick: (event) => {
                if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
                event.preventDefault();
                this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: "scripts", templateId: template.id } }));
              },
            }),
          );
        },
      });
      // The language is the draft's: accepting takes edits of name, description, tags, body and parameters.
      form.element.querySelector("[data-field=language]").disabled = true;
      replace(box, form.element, error);
      form.focus();
    };

    options();
    return box;
  }
}

FpTemplatizePrompt.define();
