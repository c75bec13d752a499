// <fp-lane-section> — one section of the task lane: a header (icon, title, count, actions) and a
// body with a loading state (skeleton), an empty state and content. setItems() renders a plain
// list; reconcile() keeps one element per item id across updates, so a half-typed answer or a
// focused field survives when a chat turn refreshes the lane. The lane's own sections
// (fp-what-we-know, fp-questions, fp-diagnostic-checks, fp-lane-actions) extend this class.
import { FpElement } from "../components/fp-element.js";
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";

export class FpLaneSection extends FpElement {
  static tag = "fp-lane-section";

  connectedCallback() {
    if (this.body) return;
    const headingId = uniqueId("fp-lane-h");
    this.classList.add("fp-lane-section");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", headingId);
    this.count = h("span", { class: "fp-badge fp-lane-section__count", hidden: true });
    this.actions = h("div", { class: "fp-lane-section__actions" });
    this.body = h("div", { class: "fp-lane-section__body", "aria-live": "polite" });
    this.replaceChildren(
      h(
        "header",
        { class: "fp-lane-section__header" },
        icon(this.getAttribute("icon") || "list-checks", "sm"),
        h("h2", { class: "fp-lane-section__title", id: headingId, text: this.getAttribute("heading") || "" }),
        this.count,
        this.actions,
      ),
      this.body,
    );
    this.setLoading();
  }

  setLoading() {
    this.dataset.state = "loading";
    this.body.setAttribute("aria-busy", "true");
    this.body.replaceChildren(skeleton({ lines: 2 }));
  }

  /** Render items (strings become text); an empty list shows the section's empty state. */
  setItems(items, renderItem = defaultItem) {
    this.body.removeAttribute("aria-busy");
    this.setCount(items.length);
    if (!items.length) {
      this.dataset.state = "empty";
      this.body.replaceChildren(this.#emptyState());
      return;
    }
    this.dataset.state = "filled";
    this.body.replaceChildren(
      h(
        "ul",
        { class: "fp-lane-list", role: "list" },
        items.map((item) => h("li", {}, renderItem(item))),
      ),
    );
  }

  setContent(...nodes) {
    this.body.removeAttribute("aria-busy");
    this.dataset.state = "filled";
    // null/false are "nothing here" (the fix section passes null when there are no earlier fixes), not the text "null".
    this.body.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined && node !== false));
  }

  /** The count badge; 0 hides it. */
  setCount(n) {
    this.count.hidden = !n;
    this.count.textContent = String(n);
  }

  /**
   * Keyed rendering: `items` in order, one element per `key(item)`. New items get `create(item)`;
   * kept ones get `update(element, item)`. Nodes only move when the order changes. `this.extra`
   * (below the list) holds section-specific rows (a pending fact, the new-note editor).
   */
  reconcile(items, { key = (item) => item.id, create, update }) {
    if (!this.list || this.list.parentNode !== this.body) {
      this.body.removeAttribute("aria-busy");
      this.list = h("ul", { class: "fp-lane-list", role: "list" });
      this.extra ||= h("div", { class: "fp-lane-section__extra" });
      this.body.replaceChildren(this.list, this.extra);
    }
    const existing = new Map([...this.list.children].map((li) => [li.dataset.key, li]));
    const nodes = items.map((item) => {
      const k = String(key(item));
      let li = existing.get(k);
      if (li) {
        existing.delete(k);
        update(li.firstElementChild, item);
      } else {
        li = h("li", { "data-key": k }, create(item));
      }
      return li;
    });
    for (const li of existing.values()) li.remove();
    let ref = this.list.firstChild;
    for (const li of nodes) {
      if (li === ref) ref = ref.nextSibling;
      else this.list.insertBefore(li, ref);
    }
    this.refreshEmpty();
  }

  /** Show the empty state when neither the list nor the extra rows have anything. */
  refreshEmpty() {
    if (!this.list) return;
    const hasItems = this.list.children.length > 0;
    const empty = !hasItems && !this.extra.children.length;
    this.list.hidden = !hasItems;
    this.dataset.state = empty ? "empty" : "filled";
    const current = this.body.querySelector(":scope > [data-empty]");
    if (empty && !current) this.body.prepend(this.#emptyState());
    else if (!empty) current?.remove();
  }

  /** The element rendering item `key`, if any. */
  itemElement(key) {
    return this.list?.querySelector(`:scope > li[data-key="${CSS.escape(String(key))}"]`)?.firstElementChild || null;
  }

  #emptyState() {
    return emptyState({ variant: "inline", title: this.getAttribute("empty-title"), body: this.getAttribute("empty-body") });
  }
}

/** A plain item row: its text, and its command when it has one. */
function defaultItem(item) {
  return h(
    "div",
    { class: "fp-lane-item", "data-id": item.id || "" },
    h("p", { class: "fp-lane-item__text", text: item.text || "" }),
    item.command && h("pre", { class: "fp-lane-item__command" }, h("code", { text: item.command })),
  );
}
