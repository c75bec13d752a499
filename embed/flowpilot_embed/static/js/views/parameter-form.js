// The inline generator's parameter form: one field per parameter of the template, filled from the
// prefill (GET …/script-templates/{id}/prefill), each value naming where it came from (a fact in What
// We Know, the ticket, the account, the PSA, the template's default). Sensitive parameters are password
// inputs and never prefilled. values() reads the form into the types the API takes; check() marks the
// required fields left empty (and the server's 422 `parameters.<name>` errors, through showErrors()).
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";

const SOURCE_LABELS = {
  fact: "From What We Know",
  ticket: "From the ticket",
  account: "From your account",
  psa: "From the PSA connection",
  default: "The template's default",
  ai: "Suggested by FlowPilot",
};
const TYPE_HINTS = {
  hostname: "A host name (letters, digits, hyphens)",
  ip: "An IPv4 or IPv6 address",
  email_upn: "An e-mail address or UPN",
  path: "A file or UNC path",
  integer: "A whole number",
};

/**
 * The form for `prefill` (the prefill response) and `schema` (the template's ParameterSchema). `keep`
 * ({name: text}) holds what the technician typed in an earlier form of the same template: it wins.
 */
export function parameterForm(prefill, schema, { onInput = () => {}, keep = {} } = {}) {
  const specs = new Map((schema?.parameters || []).map((p) => [p.name, p]));
  const fields = new Map();
  const form = h("div", { class: "fp-params", role: "group", "aria-label": "Parameters" });
  if (!prefill.values.length) {
    form.append(h("p", { class: "fp-help", text: "This template has no parameters: it renders as it is." }));
  }
  for (const value of prefill.values) {
    const spec = specs.get(value.name) || {};
    const field = parameterField(value, spec, onInput);
    if (keep[value.name] !== undefined) field.restore(keep[value.name]);
    fields.set(value.name, field);
    form.append(field.element);
  }

  return {
    element: form,
    /** {name: value} of the filled fields, typed (integer, boolean); empty optional fields are left out. */
    values() {
      const out = {};
      for (const [name, field] of fields) {
        const v = field.read();
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
    /** {name: raw text} of the fields the technician changed from what the prefill offered. */
    typed() {
      const out = {};
      for (const [name, field] of fields) if (field.changed()) out[name] = field.raw();
      return out;
    },
    /** The parameters still empty that FlowPilot could be asked about (never a sensitive one). */
    get askable() {
      return prefill.values.filter(
        (v) => !v.sensitive && v.type !== "secret" && v.type !== "boolean" && fields.get(v.name).read() === undefined,
      );
    },
    /** {name: value} for the live preview: typed like values(), secrets masked. */
    display() {
      const out = {};
      for (const [name, field] of fields) out[name] = field.display();
      return out;
    },
    /** Mark required fields left empty; returns the first invalid input, or null when all are filled. */
    check() {
      let first = null;
      for (const field of fields.values()) {
        const missing = field.required && field.read() === undefined;
        field.setError(missing ? `${field.label} is required.` : "");
        if (missing && !first) first = field.input;
      }
      return first;
    },
    /** Show the server's per-field errors (problem `errors[]`, field `parameters.<name>`); returns the first input shown. */
    showErrors(errors) {
      let first = null;
      for (const error of errors || []) {
        const name = String(error.field || "").replace(/^parameters\./, "");
        const field = fields.get(name);
        if (!field) continue;
        field.setError(error.message);
        first ||= field.input;
      }
      return first;
    },
  };
}

function parameterField(value, spec, onInput) {
  const id = uniqueId("fp-param");
  const errorId = `${id}-error`;
  const sourceId = `${id}-source`;
  const label = value.label || value.name;
  const sensitive = value.sensitive || value.type === "secret";
  let input;
  if (value.type === "boolean") {
    input = h("input", { type: "checkbox", id, class: "fp-params__check", "data-param": value.name });
    input.checked = value.value === true;
  } else if (value.type === "enum" && spec.choices?.length) {
    input = h(
      "select",
      { id, class: "fp-input fp-select", "data-param": value.name },
      !value.required && h("option", { value: "", text: "(none)" }),
      spec.choices.map((c) => h("option", { value: c, text: c })),
    );
    input.value = value.value ?? (value.required ? spec.choices[0] : "");
  } else {
    input = h("input", {
      id,
      class: "fp-input",
      "data-param": value.name,
      type: sensitive ? "password" : value.type === "integer" ? "number" : "text",
      autocomplete: sensitive ? "new-password" : "off",
      spellcheck: "false",
      inputmode: value.type === "integer" ? "numeric" : null,
      placeholder: TYPE_HINTS[value.type] || null,
    });
    // A sensitive value is never prefilled, even if a source offered one.
    if (!sensitive && value.value !== null && value.value !== undefined) input.value = String(value.value);
  }
  if (value.required && value.type !== "boolean") input.setAttribute("aria-required", "true");
  const error = h("p", { class: "fp-form-error fp-params__error", id: errorId, hidden: true });
  input.setAttribute("aria-describedby", `${sourceId} ${errorId}`);
  input.addEventListener("input", () => {
    if (input.getAttribute("aria-invalid") === "true") setError("");
    onInput();
  });
  input.addEventListener("change", onInput);

  function setError(message) {
    error.textContent = message;
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  const labelEl = h(
    "label",
    { class: "fp-label", for: id },
    label,
    !value.required && value.type !== "boolean" && h("span", { class: "fp-label__optional", text: " (optional)" }),
  );
  const element = h(
    "div",
    { class: `fp-field fp-params__field${value.type === "boolean" ? " fp-params__field--check" : ""}`, "data-param": value.name },
    value.type === "boolean" ? h("div", { class: "fp-params__check-row" }, input, labelEl) : [labelEl, input],
    sourceLine(value, sensitive, sourceId, spec),
    error,
  );
  const initial = value.type === "boolean" ? String(input.checked) : input.value;
  const raw = () => (value.type === "boolean" ? String(input.checked) : input.value);
  return {
    element,
    input,
    label,
    raw,
    changed: () => raw() !== initial,
    restore(text) {
      if (value.type === "boolean") input.checked = text === "true";
      else input.value = text;
    },
    required: value.required,
    setError,
    read() {
      if (value.type === "boolean") return input.checked;
      const text = input.value;
      if (text === "" || (!sensitive && !text.trim())) return undefined;
      if (value.type === "integer" && /^-?\d+$/.test(text.trim())) return Number(text.trim());
      return sensitive ? text : text.trim();
    },
    display() {
      if (sensitive) return input.value ? "••••••" : "";
      return this.read();
    },
  };
}

/** "From the ticket (company)", "Suggested by FlowPilot from What We Know", ... */
function sourceLabel(source) {
  const field = source.field ? source.field.replaceAll("_", " ") : "";
  if (source.kind === "ai") return field ? `Suggested by FlowPilot from the ticket (${field})` : "Suggested by FlowPilot from What We Know";
  return `${SOURCE_LABELS[source.kind] || source.kind}${field ? ` (${field})` : ""}`;
}

function sourceLine(value, sensitive, id, spec) {
  if (sensitive) {
    return h(
      "p",
      { class: "fp-params__source", id, "data-source": "sensitive" },
      icon("lock", "sm"),
      h("span", { text: "Sensitive: never prefilled, never stored in clear, never sent to a model." }),
    );
  }
  const source = value.source;
  if (!source) {
    return h("p", {
      class: "fp-params__source",
      id,
      "data-source": "none",
      text: spec.description || (value.required ? "Nothing in the session names it: type it." : "Nothing in the session names it."),
    });
  }
  const excerpt = source.excerpt && source.kind !== "default" ? source.excerpt : "";
  return h(
    "p",
    { class: "fp-params__source", id, "data-source": source.kind, "data-source-id": source.id || "" },
    icon({ fact: "notebook", ticket: "ticket", ai: "sparkle" }[source.kind] || "info", "sm"),
    h("span", { text: sourceLabel(source) }),
    excerpt && h("q", { class: "fp-params__excerpt", text: excerpt }),
  );
}
