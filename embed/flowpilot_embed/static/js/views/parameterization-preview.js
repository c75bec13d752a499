// <fp-parameterization-preview> — the script of the inline generator. Two states:
//   showTemplate(template, values): the template body with each {{ parameter }} filled in with what the
//     form holds now, live, quoted the way the server quotes it (flowpilot_core/scripts/quoting.py: the
//     API has no render that stores nothing, so the preview mirrors that one small rule; Generate is the
//     server's render, which also validates each value's type, and the browser test compares the two);
//   showScript(result): a script the server rendered or wrote (a Generation: `script`, `language`, `name`,
//     `commands`, `unknown_commands`): the commands FlowPilot doesn't know are flagged above the script,
//     before the Copy and Download buttons. FlowPilot never runs a script: the technician copies it.
// plus showLoading(text) and showError(title, error).
import { FpElement } from "../components/fp-element.js";
import { h, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { toast } from "../components/fp-toaster.js";
import { emptyState, skeleton } from "../components/ui.js";
import { copyText } from "./lane-items.js";

export const LANGUAGES = { powershell: { label: "PowerShell", extension: ".ps1" }, bash: { label: "bash", extension: ".sh" } };
const PLACEHOLDER = /\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}/g;

const POWERSHELL_QUOTES = new Set(["'", "\u2018", "\u2019", "\u201a", "\u201b"]);

/** `value` as a literal of `language`, as quoting.py writes it: the preview's half of the rule. */
export function quoteValue(language, value) {
  if (typeof value === "boolean") return language === "bash" ? String(value) : value ? "$true" : "$false";
  if (typeof value === "number") return String(value);
  const text = String(value);
  if (language === "bash") return `'${text.replaceAll("'", "'\\''")}'`;
  return `'${[...text].map((ch) => (POWERSHELL_QUOTES.has(ch) ? ch + ch : ch)).join("")}'`;
}

export const languageLabel = (language) => LANGUAGES[language]?.label || String(language || "script");

/** A file name for the download: the script's name with its language's extension. */
export function scriptFileName(name, language) {
  const extension = LANGUAGES[language]?.extension || ".txt";
  const base =
    String(name || "script")
      .trim()
      .replace(/[^\w.-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "script";
  return base.toLowerCase().endsWith(extension) ? base : `${base}${extension}`;
}

/** A warning listing the commands FlowPilot doesn't know (null when there are none). */
export function unknownCommandsWarning(unknown, lines = []) {
  if (!unknown?.length) return null;
  const where = (name) => lines.filter((c) => c.name === name && !c.known).map((c) => c.line);
  return h(
    "div",
    { class: "fp-script__unknown", role: "note", "data-unknown-commands": unknown.join(" ") },
    icon("alert", "sm"),
    h(
      "div",
      {},
      h("p", {
        class: "fp-script__unknown-title",
        text: `${unknown.length === 1 ? "1 command" : `${unknown.length} commands`} FlowPilot doesn't know: check ${unknown.length === 1 ? "it exists" : "they exist"} before you run this script`,
      }),
      h(
        "ul",
        { class: "fp-script__unknown-list", role: "list" },
        unknown.map((name) => {
          const at = where(name);
          return h(
            "li",
            {},
            h("code", { text: name }),
            at.length ? h("span", { class: "fp-help", text: ` (line ${at.join(", ")})` }) : null,
          );
        }),
      ),
    ),
  );
}

export class FpParameterizationPreview extends FpElement {
  static tag = "fp-parameterization-preview";

  script = null; // the rendered script shown, or null while it is a preview

  connectedCallback() {
    this.classList.add("fp-script");
    if (!this.hasAttribute("aria-live")) this.setAttribute("aria-live", "polite");
  }

  showLoading(text) {
    this.script = null;
    this.dataset.state = "loading";
    this.setAttribute("aria-busy", "true");
    replace(this, h("p", { class: "fp-help", text }), skeleton({ lines: 5, block: false }));
  }

  showError(title, error, retry = null) {
    this.script = null;
    this.dataset.state = "error";
    this.removeAttribute("aria-busy");
    replace(
      this,
      emptyState({
        variant: "compact",
        icon: "alert-circle",
        title,
        body: error.message,
        actions: retry ? [h("button", { type: "button", class: "fp-btn fp-btn--sm", text: "Try again", onclick: retry })] : [],
      }),
    );
  }

  /** The template body with the form's current `values` ({name: typed value}, secrets masked) in place of its parameters. */
  showTemplate(template, values) {
    this.script = null;
    this.dataset.state = "preview";
    this.removeAttribute("aria-busy");
    const code = h("pre", { class: "fp-code fp-script__code", "data-preview": "" });
    let last = 0;
    const body = template.body;
    for (const match of body.matchAll(PLACEHOLDER)) {
      code.append(body.slice(last, match.index));
      const value = values[match[1]];
      const filled = value !== undefined && value !== null && value !== "";
      code.append(
        h("mark", {
          class: `fp-script__value${filled ? "" : " fp-script__value--missing"}`,
          "data-parameter": match[1],
          text: filled ? quoteValue(template.language, value) : `‹${match[1]}›`,
        }),
      );
      last = match.index + match[0].length;
    }
    code.append(body.slice(last));
    replace(
      this,
      h(
        "div",
        { class: "fp-code-block" },
        h(
          "div",
          { class: "fp-code-block__bar" },
          h("span", { class: "fp-code-block__lang", text: `${languageLabel(template.language)} · preview` }),
        ),
        code,
      ),
      h("p", {
        class: "fp-help",
        text: `A preview with your values, each quoted for ${languageLabel(template.language)} so it can only ever be a value. Generate checks each value's type and renders the script.`,
      }),
    );
  }

  /** A script the server rendered (or the model wrote): flagged commands, then the script, Copy and Download. */
  showScript(result, { note = "" } = {}) {
    this.script = result;
    this.dataset.state = "script";
    this.removeAttribute("aria-busy");
    const text = result.script;
    const fileName = scriptFileName(result.name, result.language);
    const copy = h(
      "button",
      { type: "button", class: "fp-btn fp-btn--sm fp-code__copy", "data-action": "copy-script" },
      icon("copy", "sm"),
      h("span", { text: "Copy" }),
    );
    copy.addEventListener("click", async () => {
      const ok = await copyText(text);
      copy.dataset.copied = ok ? "true" : "false";
      copy.querySelector("span").textContent = ok ? "Copied" : "Copy";
      if (!ok) toast({ tone: "warning", title: "Couldn't copy", message: "Select the script and copy it by hand." });
      setTimeout(() => {
        delete copy.dataset.copied;
        copy.querySelector("span").textContent = "Copy";
      }, 2000);
    });
    const download = h(
      "button",
      { type: "button", class: "fp-btn fp-btn--sm", "data-action": "download-script", "aria-label": `Download ${fileName}` },
      icon("download", "sm"),
      h("span", { text: "Download" }),
    );
    download.addEventListener("click", () => {
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
      const link = h("a", { href: url, download: fileName, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 0);
    });
    replace(
      this,
      unknownCommandsWarning(result.unknown_commands, result.commands),
      h(
        "div",
        { class: "fp-code-block" },
        h(
          "div",
          { class: "fp-code-block__bar" },
          h("span", { class: "fp-code-block__lang", text: `${languageLabel(result.language)} · ${fileName}` }),
          h("span", { class: "fp-script__actions" }, copy, download),
        ),
        h("pre", { class: "fp-code fp-script__code", "data-script": "", tabindex: "0", "aria-label": `Script ${fileName}`, text }),
      ),
      result.redacted && h("p", { class: "fp-help", text: "Sensitive values are shown as [redacted]: this is the stored copy." }),
      h("p", {
        class: "fp-help",
        text: note || "FlowPilot never runs a script: copy or download it and run it where it belongs.",
      }),
    );
  }
}

FpParameterizationPreview.define();
