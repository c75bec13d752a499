// The template editor: name, description, language, tags, the body and its parameter schema, one row per
// parameter (name, label, type, required, sensitive, default, choices). Used to build a template from an
// extraction ("Build as template now"), to accept a draft after a resolve, and to edit one in the library.
// templateEditor({initial, submitLabel, onSubmit, onCancel}) returns {element, focus()}; onSubmit(payload)
// is the API call: its 422 errors (`errors[]` naming `name`, `body`, `parameter_schema.parameters[i].<key>`)
// are shown on the fields they name, and nothing the technician typed is lost.
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { LANGUAGES } from "./parameterization-preview.js";

export const PARAMETER_TYPES = ["string", "integer", "boolean", "enum", "hostname", "ip", "email_upn", "path", "secret"];
const TYPE_LABELS = { email_upn: "e-mail / UPN", ip: "IP address" };

export function templateEditor({ initial = {}, submitLabel = "Save template", onSubmit, onCancel, busyText = "Saving…" }) {
  const ids = { name: uniqueId("fp-tpl-name"), description: uniqueId("fp-tpl-desc"), language: uniqueId("fp-tpl-lang") };
  ids.tags = uniqueId("fp-tpl-tags");
  ids.body = uniqueId("fp-tpl-body");
  const name = h("input", {
    id: ids.name,
    class: "fp-input",
    "data-field": "name",
    value: initial.name || "",
    autocomplete: "off",
    "aria-required": "true",
  });
  const description = h("input", {
    id: ids.description,
    class: "fp-input",
    "data-field": "description",
    value: initial.description || "",
    autocomplete: "off",
  });
  const language = h(
    "select",
    { id: ids.language, class: "fp-input fp-select", "data-field": "language" },
    Object.entries(LANGUAGES).map(([value, l]) => h("option", { value, text: l.label })),
  );
  language.value = initial.language || "powershell";
  const tags = h("input", {
    id: ids.tags,
    class: "fp-input",
    "data-field": "tags",
    value: (initial.tags || []).join(", "),
    autocomplete: "off",
  });
  const body = h("textarea", {
    id: ids.body,
    class: "fp-textarea fp-editor__body",
    "data-field": "body",
    rows: "10",
    spellcheck: "false",
    "aria-required": "true",
  });
  body.value = initial.body || "";
  const rowsList = h("ol", { class: "fp-editor__params", role: "list" });
  const rows = [];
  const summary = h("div", { class: "fp-form-error fp-editor__errors", role: "alert", hidden: true });
  const errors = new Map(); // field path → the error <p> shown under it

  const field = (id, label, control, { optional = false, help = "" } = {}) => {
    const helpId = help ? `${id}-help` : null;
    if (helpId) control.setAttribute("aria-describedby", helpId);
    return h(
      "div",
      { class: "fp-field" },
      h("label", { class: "fp-label", for: id }, label, optional && h("span", { class: "fp-label__optional", text: " (optional)" })),
      control,
      help && h("p", { class: "fp-help", id: helpId, text: help }),
    );
  };

  function addRow(spec = {}) {
    const row = parameterRow(spec, () => {
      rows.splice(rows.indexOf(row), 1);
      row.element.remove();
      renumber();
      (rows[0]?.name || addButton).focus();
    });
    rows.push(row);
    rowsList.append(row.element);
    renumber();
    return row;
  }
  function renumber() {
    for (const [i, row] of rows.entries()) row.setIndex(i);
    empty.hidden = rows.length > 0;
  }
  const empty = h("p", { class: "fp-help", text: "No parameters: the body is used as it is." });
  const addButton = h(
    "button",
    { type: "button", class: "fp-btn fp-btn--sm", "data-action": "add-parameter", onclick: () => addRow().name.focus() },
    icon("plus", "sm"),
    "Add parameter",
  );
  for (const spec of initial.parameter_schema?.parameters || []) addRow(spec);

  const submit = h("button", { type: "submit", class: "fp-btn fp-btn--primary", "data-action": "save-template", text: submitLabel });
  const form = h(
    "form",
    { class: "fp-editor", novalidate: true, "data-editor": "" },
    summary,
    h("div", { class: "fp-editor__grid" }, field(ids.name, "Name", name), field(ids.language, "Language", language)),
    field(ids.description, "Description", description, { optional: true }),
    field(ids.tags, "Tags", tags, { optional: true, help: "Separate tags with commas. Matching reads them." }),
    field(ids.body, "Body", body, {
      help: "Write {{ name }} where a parameter's value goes: each value is quoted for the language when the script renders.",
    }),
    h("fieldset", { class: "fp-editor__schema" }, h("legend", { class: "fp-label", text: "Parameters" }), empty, rowsList, addButton),
    h(
      "div",
      { class: "fp-editor__footer" },
      onCancel &&
        h("button", { type: "button", class: "fp-btn fp-btn--ghost", "data-action": "cancel-edit", text: "Cancel", onclick: onCancel }),
      submit,
    ),
  );
  renumber();

  function payload() {
    return {
      name: name.value.trim(),
      description: description.value.trim(),
      language: language.value,
      tags: tags.value
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
      body: body.value,
      parameter_schema: { parameters: rows.map((r) => r.read()) },
    };
  }

  function clearErrors() {
    summary.hidden = true;
    summary.replaceChildren();
    for (const [, p] of errors) p.remove();
    errors.clear();
    for (const el of form.querySelectorAll("[aria-invalid=true]")) el.removeAttribute("aria-invalid");
  }

  function controlFor(path) {
    const top = { name, body, description, language, tags }[path];
    if (top) return top;
    const m = String(path).match(/^parameter_schema\.parameters\[(\d+)\](?:\.(\w+))?/);
    if (m) return rows[Number(m[1])]?.control(m[2] || "name") || null;
    return null;
  }

  function showErrors(list, fallback) {
    clearErrors();
    let first = null;
    const unplaced = [];
    for (const e of list) {
      const control = controlFor(e.field);
      if (!control) {
        unplaced.push(e.field ? `${e.field}: ${e.message}` : e.message);
        continue;
      }
      control.setAttribute("aria-invalid", "true");
      const p = h("p", { class: "fp-form-error", id: uniqueId("fp-tpl-err"), text: e.message });
      control.insertAdjacentElement("afterend", p);
      control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby") || ""} ${p.id}`.trim());
      errors.set(`${e.field}-${errors.size}`, p);
      first ||= control;
    }
    const messages = unplaced.length ? unplaced : first ? [] : [fallback];
    if (messages.length) {
      summary.hidden = false;
      summary.append(...messages.map((m) => h("p", { text: m })));
    }
    (first || summary).focus?.();
    if (!first) summary.setAttribute("tabindex", "-1");
    (first || summary).focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = payload();
    const missing = [];
    if (!data.name) missing.push({ field: "name", message: "Give the template a name." });
    if (!data.body.trim()) missing.push({ field: "body", message: "The body is empty." });
    data.parameter_schema.parameters.forEach((p, i) => {
      if (!p.name) missing.push({ field: `parameter_schema.parameters[${i}].name`, message: "Name this parameter." });
    });
    if (missing.length) return showErrors(missing, "");
    clearErrors();
    submit.disabled = true;
    const label = submit.textContent;
    submit.textContent = busyText;
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(data);
    } catch (error) {
      if (error.name === "AbortError") return;
      showErrors(error.problem?.errors || [], error.message);
    } finally {
      submit.disabled = false;
      submit.textContent = label;
      form.removeAttribute("aria-busy");
    }
  });

  return { element: form, focus: () => name.focus(), payload };
}

function parameterRow(spec, onRemove) {
  const known = { ...spec }; // keeps what the row doesn't edit (description, pattern)
  const prefix = uniqueId("fp-param-row");
  const name = h("input", {
    id: `${prefix}-name`,
    class: "fp-input",
    "data-key": "name",
    value: spec.name || "",
    autocomplete: "off",
    spellcheck: "false",
  });
  const label = h("input", { id: `${prefix}-label`, class: "fp-input", "data-key": "label", value: spec.label || "", autocomplete: "off" });
  const type = h(
    "select",
    { id: `${prefix}-type`, class: "fp-input fp-select", "data-key": "type" },
    PARAMETER_TYPES.map((t) => h("option", { value: t, text: TYPE_LABELS[t] || t })),
  );
  type.value = spec.type || "string";
  const fallback = h("input", {
    id: `${prefix}-default`,
    class: "fp-input",
    "data-key": "default",
    value: spec.default === null || spec.default === undefined ? "" : String(spec.default),
    autocomplete: "off",
  });
  const choices = h("input", {
    id: `${prefix}-choices`,
    class: "fp-input",
    "data-key": "choices",
    value: (spec.choices || []).join(", "),
    autocomplete: "off",
  });
  const required = h("input", { type: "checkbox", id: `${prefix}-required`, "data-key": "required" });
  required.checked = spec.required !== false;
  const sensitive = h("input", { type: "checkbox", id: `${prefix}-sensitive`, "data-key": "sensitive" });
  sensitive.checked = Boolean(spec.sensitive);
  const heading = h("span", { class: "fp-editor__param-title fp-overline" });
  const remove = h(
    "button",
    { type: "button", class: "fp-icon-btn", "data-action": "remove-parameter", onclick: onRemove },
    icon("trash", "sm"),
  );
  const cell = (control, text) => h("div", { class: "fp-editor__cell" }, h("label", { class: "fp-help", for: control.id, text }), control);
  const check = (control, text) => h("label", { class: "fp-editor__check", for: control.id }, control, h("span", { text }));
  const secretish = () => type.value === "secret" || sensitive.checked;
  const sync = () => {
    choicesCell.hidden = type.value !== "enum";
    fallback.disabled = secretish(); // a secret may not have a default
    if (fallback.disabled) fallback.value = "";
  };
  const choicesCell = cell(choices, "Choices (comma-separated)");
  type.addEventListener("change", sync);
  sensitive.addEventListener("change", sync);
  const element = h(
    "li",
    { class: "fp-editor__param", "data-param-row": "" },
    h("div", { class: "fp-editor__param-head" }, heading, remove),
    h(
      "div",
      { class: "fp-editor__param-grid" },
      cell(name, "Name"),
      cell(label, "Label"),
      cell(type, "Type"),
      cell(fallback, "Default"),
      choicesCell,
    ),
    h("div", { class: "fp-editor__param-flags" }, check(required, "Required"), check(sensitive, "Sensitive")),
  );
  sync();
  return {
    element,
    name,
    setIndex(i) {
      heading.textContent = `Parameter ${i + 1}`;
      remove.setAttribute("aria-label", `Remove parameter ${i + 1}${name.value ? ` (${name.value})` : ""}`);
    },
    control: (key) => ({ name, label, type, default: fallback, choices, required, sensitive })[key] || name,
    read() {
      const out = {
        ...known,
        name: name.value.trim(),
        label: label.value.trim(),
        type: type.value,
        required: required.checked,
        sensitive: sensitive.checked,
        choices:
          type.value === "enum"
            ? choices.value
                .split(",")
                .map((c) => c.trim())
                .filter(Boolean)
            : [],
      };
      const raw = fallback.value.trim();
      if (secretish() || raw === "") out.default = null;
      else if (type.value === "integer" && /^-?\d+$/.test(raw)) out.default = Number(raw);
      else if (type.value === "boolean") out.default = raw === "true";
      else out.default = raw;
      return out;
    },
  };
}
