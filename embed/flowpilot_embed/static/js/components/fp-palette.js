// <fp-palette> — the Cmd/Ctrl+K command palette, and its registry.
//
// Any module adds commands with registerCommand() (module import) or, from anywhere,
// window.FlowPilotPalette.register({id, title, run, group?, keywords?, icon?, hint?}).
// A provider adds dynamic results for the typed query (e.g. "go to session"):
// registerProvider(async (query, signal) => [{id, title, run, group, meta, icon}]).
import { FpElement } from "./fp-element.js";
import { h, kbd, uniqueId } from "../dom.js";
import { icon } from "./fp-icon.js";

const commands = new Map();
const providers = new Set();

/** Register a command; returns a function that removes it. Re-registering an id replaces it. */
export function registerCommand(command) {
  if (!command || typeof command.id !== "string" || typeof command.title !== "string" || typeof command.run !== "function") {
    throw new TypeError("[FlowPilot] palette commands need {id: string, title: string, run: function}");
  }
  commands.set(command.id, { group: "Actions", icon: "command", keywords: "", ...command });
  return () => unregisterCommand(command.id);
}

export function unregisterCommand(id) {
  commands.delete(id);
}

export function registerProvider(provider) {
  providers.add(provider);
  return () => providers.delete(provider);
}

const matches = (command, query) =>
  !query || `${command.title} ${command.keywords} ${command.group}`.toLowerCase().includes(query.toLowerCase());

export class FpPalette extends FpElement {
  static tag = "fp-palette";

  #items = [];
  #active = 0;
  #abort = null;
  #returnFocus = null;

  connectedCallback() {
    if (this.dialog) return;
    const listId = uniqueId("fp-palette-list");
    this.input = h("input", {
      class: "fp-palette__input",
      type: "text",
      role: "combobox",
      "aria-expanded": "true",
      "aria-controls": listId,
      "aria-autocomplete": "list",
      "aria-label": "Search commands and sessions",
      placeholder: "Type a command or search sessions…",
      autocomplete: "off",
      spellcheck: "false",
    });
    this.list = h("ul", { class: "fp-menu fp-palette__list", role: "listbox", id: listId, "aria-label": "Results" });
    this.dialog = h(
      "dialog",
      { class: "fp-dialog fp-palette", "aria-label": "Command palette" },
      h("div", { class: "fp-palette__search" }, icon("search"), this.input, kbd("Esc")),
      this.list,
      h(
        "div",
        { class: "fp-palette__footer" },
        h("span", {}, kbd("↑"), kbd("↓"), " to move"),
        h("span", {}, kbd("↵"), " to run"),
        h("span", {}, kbd("mod", "K"), " to close"),
      ),
    );
    this.append(this.dialog);
    this.input.addEventListener("input", () => this.#refresh());
    this.input.addEventListener("keydown", (event) => this.#onKeydown(event));
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.#run(Number(option.dataset.index));
    });
    this.list.addEventListener("mousemove", (event) => {
      const option = event.target.closest("[role=option]");
      if (option && Number(option.dataset.index) !== this.#active) this.#setActive(Number(option.dataset.index));
    });
    this.dialog.addEventListener("close", () => {
      this.#abort?.abort();
      this.#returnFocus?.focus?.();
    });
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close();
    });
  }

  get isOpen() {
    return Boolean(this.dialog?.open);
  }

  open(query = "") {
    if (this.isOpen) return;
    this.#returnFocus = document.activeElement;
    this.input.value = query;
    this.dialog.showModal();
    this.input.focus();
    this.#refresh();
  }

  close() {
    if (this.isOpen) this.dialog.close();
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  async #refresh() {
    const query = this.input.value.trim();
    const local = [...commands.values()].filter((c) => !c.when || c.when()).filter((c) => matches(c, query));
    this.#render(local, true);
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    const results = await Promise.all([...providers].map((p) => Promise.resolve(p(query, abort.signal)).catch(() => [])));
    if (abort.signal.aborted) return;
    this.#render([...local, ...results.flat()], false);
  }

  #render(items, pending) {
    this.#items = items;
    const groups = new Map();
    items.forEach((item, index) => {
      const group = item.group || "Actions";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push([item, index]);
    });
    const nodes = [];
    for (const [group, entries] of groups) {
      nodes.push(h("li", { class: "fp-menu__group fp-overline", role: "presentation", text: group }));
      for (const [item, index] of entries) {
        nodes.push(
          h(
            "li",
            { class: "fp-menu__item", role: "option", id: `${this.list.id}-${index}`, "data-index": index, "data-command": item.id },
            icon(item.icon || "command"),
            h("span", { class: "fp-menu__label", text: item.title }),
            item.meta && h("span", { class: "fp-menu__meta", text: item.meta }),
            item.hint && kbd(...[].concat(item.hint)),
          ),
        );
      }
    }
    if (!items.length) {
      nodes.push(
        h("li", { class: "fp-palette__empty", role: "presentation", text: pending ? "Searching…" : "No matching commands or sessions" }),
      );
    }
    this.list.replaceChildren(...nodes);
    this.#setActive(Math.min(this.#active, Math.max(items.length - 1, 0)));
  }

  #setActive(index) {
    this.#active = index;
    let activeId = "";
    for (const option of this.list.querySelectorAll("[role=option]")) {
      const selected = Number(option.dataset.index) === index;
      option.setAttribute("aria-selected", String(selected));
      if (selected) {
        activeId = option.id;
        option.scrollIntoView({ block: "nearest" });
      }
    }
    if (activeId) this.input.setAttribute("aria-activedescendant", activeId);
    else this.input.removeAttribute("aria-activedescendant");
  }

  #onKeydown(event) {
    const count = this.#items.length;
    if (event.key === "ArrowDown" && count) {
      event.preventDefault();
      this.#setActive((this.#active + 1) % count);
    } else if (event.key === "ArrowUp" && count) {
      event.preventDefault();
      this.#setActive((this.#active - 1 + count) % count);
    } else if (event.key === "Enter" && !event.isComposing) {
      event.preventDefault();
      this.#run(this.#active);
    }
  }

  #run(index) {
    const item = this.#items[index];
    if (!item) return;
    this.#returnFocus = null;
    this.close();
    Promise.resolve().then(() => item.run());
  }
}

/** The public extension API, also reachable as window.FlowPilotPalette. */
export const FlowPilotPalette = Object.freeze({
  register: registerCommand,
  unregister: unregisterCommand,
  registerProvider,
  open: (query) => document.querySelector("fp-palette")?.open(query),
  close: () => document.querySelector("fp-palette")?.close(),
});
