// <fp-script-library> — the Script Library at /pilot/scripts: the account's templates (GET
// /api/v1/script-templates?q=, every word of the search in name, description, tags or body), the pending
// draft templates waiting for review (GET /api/v1/draft-templates?status=pending: review and save, or
// skip), and one template at a time: its body, parameters, the commands FlowPilot doesn't know, and its
// provenance (the session it came from, who saved it, the ticket). Edit (PATCH) and Delete (with a
// confirmation) act on it. Session links emit "fp-navigate" {detail: {id}} like the session list.
import { FpElement } from "../components/fp-element.js";
import { api } from "../api.js";
import { absoluteTime, h, relativeTime, uniqueId, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { toast } from "../components/fp-toaster.js";
import { emptyState, runDialog, skeleton } from "../components/ui.js";
import { sessionHref } from "./session-list.js";
import { languageLabel, unknownCommandsWarning } from "./parameterization-preview.js";
import { templateEditor } from "./template-editor.js";

export const SCRIPTS_PATH = "/pilot/scripts";
export const scriptsHref = () => `${SCRIPTS_PATH}${location.search}`;
const SEARCH_DELAY_MS = 250;

export class FpScriptLibrary extends FpElement {
  static tag = "fp-script-library";

  me = null; // /api/v1/me, to say "you" for the technician who saved a template
  query = "";
  #abort = null;
  #timer = 0;

  connectedCallback() {
    if (this.body) return;
    const searchId = uniqueId("fp-lib-search");
    this.search = h("input", {
      id: searchId,
      type: "search",
      class: "fp-input",
      "data-action": "search-templates",
      placeholder: "Search name, tags, description, body",
      autocomplete: "off",
    });
    this.search.addEventListener("input", () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.query = this.search.value.trim();
        this.showList();
      }, SEARCH_DELAY_MS);
    });
    this.heading = h("h1", { class: "fp-library__title", tabindex: "-1", text: "Script library" });
    this.drafts = h("section", { class: "fp-library__drafts", "aria-label": "Pending draft templates", hidden: true });
    this.body = h("div", { class: "fp-library__body", "aria-live": "polite" });
    replace(
      this,
      h(
        "div",
        { class: "fp-library__inner" },
        h(
          "header",
          { class: "fp-library__header" },
          h(
            "div",
            {},
            this.heading,
            h("p", {
              class: "fp-help",
              text: "Parameterised scripts your team saved from sessions. FlowPilot fills them in; it never runs them.",
            }),
          ),
          h(
            "div",
            { class: "fp-library__tools" },
            h(
              "div",
              { class: "fp-search fp-library__search" },
              h("label", { class: "fp-visually-hidden", for: searchId, text: "Search templates" }),
              icon("search", "sm"),
              this.search,
            ),
            h(
              "button",
              { type: "button", class: "fp-btn", "data-action": "new-template", onclick: () => this.showEditor(null) },
              icon("plus", "sm"),
              "New template",
            ),
          ),
        ),
        this.drafts,
        this.body,
      ),
    );
  }

  /** Show the library (and, with `templateId`, that template). */
  show({ templateId = null } = {}) {
    this.loadDrafts();
    if (templateId) this.showTemplate(templateId);
    else this.showList();
  }

  #begin() {
    this.#abort?.abort();
    this.#abort = new AbortController();
    return this.#abort;
  }

  // ---- The list -------------------------------------------------------------------------------

  async showList({ focus = false } = {}) {
    const abort = this.#begin();
    this.dataset.state = "loading";
    this.dataset.view = "list";
    this.body.setAttribute("aria-busy", "true");
    replace(
      this.body,
      h("p", { class: "fp-visually-hidden", role: "status", text: "Loading templates…" }),
      skeleton({ lines: 4, title: true }),
    );
    const params = this.query ? `?${new URLSearchParams({ q: this.query })}` : "";
    let data;
    try {
      data = await api(`/api/v1/script-templates${params}`, { signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted || error.name === "AbortError") return;
      this.#error("Couldn't load the script library", error, () => this.showList());
      return;
    }
    if (abort.signal.aborted) return;
    this.body.removeAttribute("aria-busy");
    if (!data.items.length) {
      this.dataset.state = "empty";
      replace(
        this.body,
        this.query
          ? emptyState({
              icon: "search",
              title: `No template matches “${this.query}”`,
              body: "Every word must appear in a template's name, description, tags or body.",
            })
          : emptyState({
              icon: "script",
              title: "No templates yet",
              body: "When a fix needs a script, choose “Build as template now”, or “Run now, templatize after resolve” and save it after you resolve. Templates appear here.",
            }),
      );
      return;
    }
    this.dataset.state = "ready";
    replace(
      this.body,
      h("p", { class: "fp-visually-hidden", role: "status", text: `${data.items.length} template${data.items.length === 1 ? "" : "s"}` }),
      h(
        "ul",
        { class: "fp-library__list", role: "list" },
        data.items.map((item) => h("li", {}, this.#row(item))),
      ),
    );
    if (focus) this.heading.focus();
  }

  #row(item) {
    return h(
      "button",
      { type: "button", class: "fp-library__row", "data-template-id": item.id, onclick: () => this.showTemplate(item.id) },
      h(
        "span",
        { class: "fp-library__row-head" },
        icon("script", "sm"),
        h("span", { class: "fp-library__row-name", text: item.name }),
        h("span", { class: "fp-badge fp-badge--outline", text: languageLabel(item.language) }),
        item.tags.map((t) => h("span", { class: "fp-badge", text: t })),
      ),
      item.description && h("span", { class: "fp-library__row-description", text: item.description }),
      h(
        "span",
        { class: "fp-library__row-meta" },
        `${item.parameter_count === 1 ? "1 parameter" : `${item.parameter_count} parameters`}`,
        item.source_ticket_ref && ` · from ticket #${item.source_ticket_ref}`,
        item.updated_at && ` · updated ${relativeTime(item.updated_at)}`,
      ),
    );
  }

  // ---- One template ---------------------------------------------------------------------------

  async showTemplate(id) {
    const abort = this.#begin();
    this.dataset.view = "template";
    this.dataset.state = "loading";
    this.body.setAttribute("aria-busy", "true");
    replace(this.body, skeleton({ lines: 6, title: true }));
    let template;
    try {
      template = await api(`/api/v1/script-templates/${encodeURIComponent(id)}`, { signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted || error.name === "AbortError") return;
      if (error.status === 404) {
        this.#error("Template not found", { message: "It was deleted, or it belongs to another account." }, null);
        return;
      }
      this.#error("Couldn't load the template", error, () => this.showTemplate(id));
      return;
    }
    if (abort.signal.aborted) return;
    this.#renderTemplate(template);
  }

  #renderTemplate(template) {
    this.dataset.state = "ready";
    this.body.removeAttribute("aria-busy");
    const title = h("h2", { class: "fp-library__template-title", tabindex: "-1", text: template.name });
    const params = template.parameter_schema.parameters;
    replace(
      this.body,
      h(
        "article",
        { class: "fp-card fp-library__template", "data-template-id": template.id },
        h(
          "div",
          { class: "fp-library__template-head" },
          this.#backButton(),
          title,
          h("span", { class: "fp-badge fp-badge--outline", text: languageLabel(template.language) }),
          h(
            "div",
            { class: "fp-library__template-actions" },
            h(
              "button",
              { type: "button", class: "fp-btn fp-btn--sm", "data-action": "edit-template", onclick: () => this.showEditor(template) },
              icon("pencil", "sm"),
              "Edit",
            ),
            h(
              "button",
              {
                type: "button",
                class: "fp-btn fp-btn--sm fp-btn--danger",
                "data-action": "delete-template",
                onclick: (event) => this.#confirmDelete(template, event.currentTarget),
              },
              icon("trash", "sm"),
              "Delete",
            ),
          ),
        ),
        template.description && h("p", { class: "fp-library__description", text: template.description }),
        template.tags.length > 0 &&
          h(
            "p",
            { class: "fp-library__tags" },
            template.tags.map((t) => h("span", { class: "fp-badge", text: t })),
          ),
        this.#provenance(template),
        h("h3", { class: "fp-overline", text: "Parameters" }),
        params.length
          ? h(
              "table",
              { class: "fp-library__params" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Name", "Label", "Type", "Required", "Default"].map((c) => h("th", { scope: "col", text: c })),
                ),
              ),
              h(
                "tbody",
                {},
                params.map((p) =>
                  h(
                    "tr",
                    { "data-param": p.name },
                    h("td", {}, h("code", { text: p.name })),
                    h("td", { text: p.label || "—" }),
                    h("td", { text: p.sensitive && p.type !== "secret" ? `${p.type} (sensitive)` : p.type }),
                    h("td", { text: p.required ? "Yes" : "No" }),
                    h("td", { text: p.default === null || p.default === undefined ? "—" : String(p.default) }),
                  ),
                ),
              ),
            )
          : h("p", { class: "fp-help", text: "No parameters: the body is used as it is." }),
        h("h3", { class: "fp-overline", text: "Body" }),
        unknownCommandsWarning(template.unknown_commands, template.commands),
        h("pre", { class: "fp-code fp-library__body-code", tabindex: "0", "aria-label": `Body of ${template.name}`, text: template.body }),
      ),
    );
    const article = this.body.querySelector("article");
    title.id = uniqueId("fp-lib-tpl");
    article.setAttribute("aria-labelledby", title.id);
    title.focus();
  }

  #provenance(template) {
    const rows = [];
    if (template.source_session_id) {
      rows.push([
        "Source session",
        h("a", {
          href: sessionHref(template.source_session_id),
          "data-action": "open-source-session",
          text: "Open the session it came from",
          onclick: (event) => {
            if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
            event.preventDefault();
            this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: template.source_session_id } }));
          },
        }),
      ]);
    }
    if (template.source_user_id) {
      const you = this.me?.user?.id === template.source_user_id;
      rows.push([
        "Saved by",
        h("span", { title: template.source_user_id, text: you ? "You" : `Technician ${template.source_user_id.slice(0, 8)}` }),
      ]);
    }
    if (template.source_ticket_ref)
      rows.push(["Ticket", h("span", { class: "fp-badge fp-badge--mono", text: `#${template.source_ticket_ref}` })]);
    rows.push(["Created", h("time", { datetime: template.created_at, text: absoluteTime(template.created_at) })]);
    if (template.updated_at !== template.created_at) {
      rows.push(["Updated", h("time", { datetime: template.updated_at, text: absoluteTime(template.updated_at) })]);
    }
    return h(
      "dl",
      { class: "fp-library__provenance", "aria-label": "Provenance" },
      !template.source_session_id && h("div", {}, h("dt", { text: "Source" }), h("dd", { text: "Written in the library" })),
      rows.map(([k, v]) => h("div", { "data-provenance": k.toLowerCase().replaceAll(" ", "-") }, h("dt", { text: k }), h("dd", {}, v))),
    );
  }

  #backButton() {
    return h(
      "button",
      {
        type: "button",
        class: "fp-icon-btn",
        "data-action": "back-to-list",
        "aria-label": "Back to all templates",
        onclick: () => this.showList({ focus: true }),
      },
      icon("arrow-left"),
    );
  }

  /** The editor for `template` (null: a new one). */
  showEditor(template) {
    this.#begin();
    this.dataset.view = "editor";
    this.dataset.state = "ready";
    this.body.removeAttribute("aria-busy");
    const editor = templateEditor({
      initial: template || { language: "powershell", parameter_schema: { parameters: [] } },
      submitLabel: template ? "Save changes" : "Create template",
      onCancel: () => (template ? this.#renderTemplate(template) : this.showList({ focus: true })),
      onSubmit: async (payload) => {
        const saved = template
          ? await api(`/api/v1/script-templates/${encodeURIComponent(template.id)}`, { method: "PATCH", body: payload })
          : await api("/api/v1/script-templates", { method: "POST", body: payload });
        toast({ tone: "success", title: template ? "Template saved" : "Template created", message: saved.name });
        this.#renderTemplate(saved);
      },
    });
    replace(
      this.body,
      h(
        "section",
        { class: "fp-card fp-library__editor", "aria-label": template ? `Edit ${template.name}` : "New template" },
        h("h2", { class: "fp-library__template-title", text: template ? `Edit ${template.name}` : "New template" }),
        editor.element,
      ),
    );
    editor.focus();
  }

  async #confirmDelete(template, trigger) {
    const titleId = uniqueId("fp-del-title");
    const dialog = h(
      "dialog",
      { class: "fp-dialog", "aria-labelledby": titleId, "data-dialog": "delete-template" },
      h(
        "form",
        { method: "dialog" },
        h("div", { class: "fp-dialog__header" }, h("h2", { class: "fp-dialog__title", id: titleId, text: `Delete “${template.name}”?` })),
        h(
          "div",
          { class: "fp-dialog__body" },
          h("p", { text: "It leaves the library for your whole team. Scripts already generated from it stay with their sessions." }),
        ),
        h(
          "div",
          { class: "fp-dialog__footer" },
          h("button", { class: "fp-btn fp-btn--ghost", value: "cancel", "data-action": "cancel-delete", text: "Cancel", autofocus: true }),
          h("button", { class: "fp-btn fp-btn--danger", value: "delete", "data-action": "confirm-delete", text: "Delete template" }),
        ),
      ),
    );
    dialog.addEventListener("close", () => setTimeout(() => dialog.remove(), 0));
    const answer = await runDialog(dialog);
    if (answer !== "delete") {
      trigger?.focus();
      return;
    }
    try {
      await api(`/api/v1/script-templates/${encodeURIComponent(template.id)}`, { method: "DELETE" });
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't delete the template", message: error.message });
      trigger?.focus();
      return;
    }
    toast({ tone: "success", title: "Template deleted", message: template.name });
    this.showList({ focus: true });
  }

  #error(title, error, retry) {
    this.dataset.state = "error";
    this.body.removeAttribute("aria-busy");
    replace(
      this.body,
      emptyState({
        icon: "alert-circle",
        title,
        body: error.message,
        actions: [
          retry &&
            h("button", { type: "button", class: "fp-btn", "data-action": "retry", onclick: retry }, icon("refresh", "sm"), "Try again"),
          this.dataset.view !== "list" &&
            h("button", {
              type: "button",
              class: "fp-btn fp-btn--ghost",
              text: "All templates",
              onclick: () => this.showList({ focus: true }),
            }),
        ].filter(Boolean),
      }),
    );
  }

  // ---- Pending drafts -------------------------------------------------------------------------

  async loadDrafts() {
    let data;
    try {
      data = await api("/api/v1/draft-templates?status=pending");
    } catch (error) {
      this.drafts.hidden = false;
      replace(this.drafts, h("p", { class: "fp-form-error", role: "alert", text: `Couldn't load the pending drafts: ${error.message}` }));
      return;
    }
    this.drafts.hidden = !data.items.length;
    replace(
      this.drafts,
      h(
        "h2",
        { class: "fp-library__drafts-title" },
        `Waiting for review`,
        h("span", { class: "fp-badge fp-badge--count", text: String(data.pending) }),
      ),
      h(
        "ul",
        { class: "fp-library__draft-list", role: "list" },
        data.items.map((draft) => h("li", { "data-draft-id": draft.id }, this.#draftRow(draft))),
      ),
    );
  }

  #draftRow(draft) {
    const box = h("div", { class: "fp-library__draft" });
    const error = h("p", { class: "fp-form-error", role: "alert", hidden: true });
    const done = () => {
      this.dispatchEvent(new CustomEvent("fp-scripts-changed", { bubbles: true }));
      this.loadDrafts();
    };
    const row = () =>
      replace(
        box,
        h(
          "div",
          { class: "fp-library__draft-head" },
          h("span", { class: "fp-library__row-name", text: draft.name }),
          h("span", { class: "fp-badge fp-badge--outline", text: languageLabel(draft.language) }),
          h("span", { class: "fp-help", text: `drafted ${relativeTime(draft.created_at)}` }),
          h("a", {
            href: sessionHref(draft.session_id),
            text: "Session",
            "aria-label": `Open the session of ${draft.name}`,
            onclick: (event) => {
              if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
              event.preventDefault();
              this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: draft.session_id } }));
            },
          }),
          h("span", { class: "fp-library__draft-actions" }, review, skip),
        ),
        error,
      );
    const review = h("button", {
      type: "button",
      class: "fp-btn fp-btn--sm fp-btn--primary",
      "data-action": "review-draft",
      text: "Review",
      onclick: () => {
        const editor = templateEditor({
          initial: draft,
          submitLabel: "Save template",
          onCancel: row,
          onSubmit: async ({ language: _language, ...edits }) => {
            const template = await api(`/api/v1/draft-templates/${encodeURIComponent(draft.id)}/accept`, { method: "POST", body: edits });
            toast({ tone: "success", title: "Template saved", message: template.name });
            done();
            this.showTemplate(template.id);
          },
        });
        editor.element.querySelector("[data-field=language]").disabled = true;
        replace(box, editor.element);
        editor.focus();
      },
    });
    const skip = h("button", {
      type: "button",
      class: "fp-btn fp-btn--sm",
      "data-action": "skip-draft",
      text: "Skip",
      onclick: async () => {
        skip.disabled = true;
        try {
          await api(`/api/v1/draft-templates/${encodeURIComponent(draft.id)}/skip`, { method: "POST", body: {} });
          toast({ tone: "info", title: "Draft skipped", message: draft.name });
          done();
        } catch (err) {
          skip.disabled = false;
          error.textContent = err.message;
          error.hidden = false;
        }
      },
    });
    row();
    return box;
  }
}

FpScriptLibrary.define();
