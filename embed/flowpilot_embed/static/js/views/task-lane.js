// <fp-task-lane> — What We Know above Questions and Diagnostic Checks, then the Suggested fix.
// Each section is a <fp-lane-section> with loading, empty and filled states; later features
// replace a section's items through setItems() or render their own nodes with setContent().
import { apiOptional } from "../api.js";
import { h, uniqueId } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";

export class FpLaneSection extends HTMLElement {
  static define(tag = "fp-lane-section", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  connectedCallback() {
    if (this.body) return;
    const headingId = uniqueId("fp-lane-h");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", headingId);
    this.count = h("span", { class: "fp-badge fp-lane-section__count", hidden: true });
    this.actions = h("div", { class: "fp-lane-section__actions" });
    this.body = h("div", { class: "fp-lane-section__body", "aria-live": "polite" });
    this.replaceChildren(
      h("header", { class: "fp-lane-section__header" },
        icon(this.getAttribute("icon") || "list-checks", "sm"),
        h("h2", { class: "fp-lane-section__title", id: headingId, text: this.getAttribute("heading") || "" }),
        this.count, this.actions),
      this.body);
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
    this.count.hidden = !items.length;
    this.count.textContent = String(items.length);
    if (!items.length) {
      this.dataset.state = "empty";
      this.body.replaceChildren(emptyState({
        variant: "inline", title: this.getAttribute("empty-title"), body: this.getAttribute("empty-body"),
      }));
      return;
    }
    this.dataset.state = "filled";
    this.body.replaceChildren(h("ul", { class: "fp-lane-list", role: "list" }, items.map((item) => h("li", {}, renderItem(item)))));
  }

  setContent(...nodes) {
    this.body.removeAttribute("aria-busy");
    this.dataset.state = "filled";
    this.body.replaceChildren(...nodes);
  }
}

/** The text of a task-lane item, whatever shape a later feature gives it. */
export function itemText(item) {
  if (item === null || typeof item !== "object") return String(item ?? "");
  return String(item.statement ?? item.text ?? item.question ?? item.title ?? item.content ?? item.command ?? "");
}

function defaultItem(item) {
  const command = item && typeof item === "object" && item.command && item.command !== itemText(item) ? item.command : null;
  return h("div", { class: "fp-lane-item", "data-id": item?.id || "" },
    h("p", { class: "fp-lane-item__text", text: itemText(item) }),
    command && h("pre", { class: "fp-lane-item__command" }, h("code", { text: command })));
}

export class FpTaskLane extends HTMLElement {
  static define(tag = "fp-task-lane", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  connectedCallback() {
    if (this.sections) return;
    const section = (key, attrs) => h("fp-lane-section", { "data-section": key, ...attrs });
    this.sections = {
      facts: section("what-we-know", { heading: "What We Know", icon: "notebook", "empty-title": "No facts yet",
        "empty-body": "Confirmed answers and check results collect here as you work the ticket." }),
      questions: section("questions", { heading: "Questions", icon: "help", "empty-title": "No open questions",
        "empty-body": "FlowPilot asks here when it needs something from you or the user." }),
      checks: section("checks", { heading: "Diagnostic Checks", icon: "terminal", "empty-title": "No checks proposed",
        "empty-body": "Checks FlowPilot proposes appear here, with what to run and what to look for." }),
      fix: section("suggested-fix", { heading: "Suggested fix", icon: "wrench", "empty-title": "No suggested fix yet",
        "empty-body": "When the facts point to a cause, FlowPilot suggests a fix here for you to review." }),
    };
    this.append(...Object.values(this.sections));
  }

  /** Show a task lane ({questions, checks, actions}); only open items are listed. */
  setLane(lane = {}) {
    const open = (items) => (Array.isArray(items) ? items.filter((i) => !i?.status || ["pending", "open"].includes(i.status)) : []);
    this.sections.questions.setItems(open(lane.questions));
    this.sections.checks.setItems(open([...(lane.checks || []), ...(lane.actions || [])]));
  }

  /** Load the lane for a session (facts from the API; questions and checks from pending_task_lane). */
  async load(session, { signal } = {}) {
    for (const s of Object.values(this.sections)) s.setLoading();
    this.session = session;
    this.setLane(session?.pending_task_lane || {});
    this.sections.fix.setItems([]);
    await this.loadFacts({ signal });
  }

  async loadFacts({ signal } = {}) {
    const session = this.session;
    if (!session) return;
    try {
      const facts = await apiOptional(`/api/v1/ai-sessions/${encodeURIComponent(session.id)}/facts`, { items: [] }, { signal });
      if (signal?.aborted) return;
      this.sections.facts.setItems(Array.isArray(facts) ? facts : facts?.items || []);
    } catch (error) {
      if (error.name === "AbortError") return;
      this.sections.facts.setContent(emptyState({ variant: "compact", icon: "alert-circle", title: "Couldn't load facts", body: error.message }));
    }
  }
}
