// <fp-task-lane> — What We Know above Questions and Diagnostic Checks (and Actions when there are
// any), then the Suggested fix (a chat turn's fix arrives through the store). It shows one session's
// SessionStore (attach(store)), which the session view fills (SessionStore.open()), renders the lane,
// facts and fix whenever the store changes, and is the one place that writes them: answers, check output, dismissals, promotions
// and notes. Every write applies the server's reply to the store (an ItemUpdate carries the item,
// the new lane and the fact it produced), so nothing needs a reload.
import { FpElement } from "../components/fp-element.js";
import { h } from "../dom.js";
import { toast } from "../components/fp-toaster.js";
import { FpLaneSection } from "./lane-section.js";
import { FpWhatWeKnow, FpWhatWeKnowItem, FpAddNoteButton, flash } from "./what-we-know.js";
import { FpSuggestedFix } from "./suggested-fix.js";
import { FpQuestions, FpDiagnosticChecks, FpLaneActions, FpQuestionItem, FpCheckItem, FpActionItem } from "./lane-items.js";

const LANE_KINDS = ["questions", "checks", "actions"];

export class FpTaskLane extends FpElement {
  static tag = "fp-task-lane";

  /** Define the lane and every element it renders. */
  static defineAll() {
    const elements = [
      FpLaneSection,
      FpWhatWeKnow,
      FpWhatWeKnowItem,
      FpAddNoteButton,
      FpQuestions,
      FpDiagnosticChecks,
      FpLaneActions,
      FpQuestionItem,
      FpCheckItem,
      FpActionItem,
      FpSuggestedFix,
      FpTaskLane,
    ];
    for (const element of elements) element.define();
  }

  store = null;
  #readOnly = false;

  connectedCallback() {
    if (this.sections) return;
    const section = (tag, key, attrs) => h(tag, { "data-section": key, ...attrs });
    this.sections = {
      facts: section("fp-what-we-know", "what-we-know", {
        heading: "What We Know",
        icon: "notebook",
        "empty-title": "No facts yet",
        "empty-body": "Confirmed answers and check results collect here as you work the ticket. Add your own notes too.",
      }),
      questions: section("fp-questions", "questions", {
        heading: "Questions",
        icon: "help",
        "empty-title": "No open questions",
        "empty-body": "FlowPilot asks here when it needs something from you or the user.",
      }),
      checks: section("fp-diagnostic-checks", "checks", {
        heading: "Diagnostic Checks",
        icon: "terminal",
        "empty-title": "No checks proposed",
        "empty-body": "Checks FlowPilot proposes appear here, with the command to run and a place to paste its output.",
      }),
      actions: section("fp-lane-actions", "actions", {
        heading: "Actions",
        icon: "list-checks",
        hidden: true,
        "empty-title": "No actions",
        "empty-body": "Steps FlowPilot asks you to carry out appear here.",
      }),
      fix: section("fp-suggested-fix", "suggested-fix", {
        heading: "Suggested fix",
        icon: "wrench",
        "empty-title": "No suggested fix yet",
        "empty-body": "When the facts point to a cause, FlowPilot suggests a fix here for you to review.",
      }),
    };
    this.append(...Object.values(this.sections));
    this.addEventListener("fp-focus-item", (event) => {
      event.stopPropagation();
      this.focusItem(event.detail.id);
    });
  }

  /**
   * Show `store`'s session: every section loads, then follows the store. With `load` (the default)
   * the lane and the facts are read from the server; the gallery passes false and fills the store itself.
   */
  /** Show `store`'s lane, facts and fix; the sections show their loading state until the store has them. */
  attach(store) {
    this.store = store;
    for (const section of Object.values(this.sections)) section.setLoading();
    this.sections.actions.hidden = true;
    this.#setReadOnly(store.session);
    store.on("session", (_, { session }) => this.#setReadOnly(session));
    store.on("lane", (_, { highlight }) => this.#renderLane(highlight));
    store.on("facts", (_, { highlight }) => {
      this.#renderFacts();
      if (store.loaded.lane) this.#renderLane(); // "Add to What We Know" depends on the facts
      if (highlight) flash(this.sections.facts.factElement(highlight));
      if (store.loaded.fix) this.#renderFix(); // the fix's "Based on" links show the facts' text
    });
    store.on("fix", () => this.#renderFix());
  }

  // ---- Rendering ------------------------------------------------------------------------------

  #setReadOnly(session) {
    const readOnly = Boolean(session?.status && session.status !== "open");
    if (readOnly === this.#readOnly) return;
    this.#readOnly = readOnly;
    this.dataset.readonly = String(readOnly);
    if (this.store?.loaded.lane) this.#renderLane();
    if (this.store?.loaded.fix) this.#renderFix();
  }

  #renderFix() {
    const store = this.store;
    this.sections.fix.setFix(store.fix, store.fixHistory, {
      readOnly: this.#readOnly,
      factOf: (id) => store.facts.find((f) => f.id === id) || null,
      onDecide: (fix, decision) => this.decideFix(fix.id, decision),
    });
  }

  /** Render the store's lane; `highlight` ids flash (new items from a turn). */
  #renderLane(highlight = []) {
    const lane = this.store.lane;
    const facts = this.store.facts;
    const context = (item) => ({ readOnly: this.#readOnly, hasFact: facts.some((f) => f.source_ref === item.id) });
    for (const kind of LANE_KINDS) this.sections[kind].setLaneItems(lane[kind], context);
    for (const id of highlight) flash(this.itemElement(id));
    if (this.store.loaded.facts) this.#renderFacts(); // sources ("From question: …") may have changed
  }

  #renderFacts() {
    this.sections.facts.setFacts(this.store.facts, (fact) => this.findItem(fact.source_ref));
  }

  findItem(id) {
    return this.store?.findItem(id) ?? null;
  }

  itemElement(id) {
    for (const key of ["questions", "checks", "actions"]) {
      const el = this.sections[key].itemElement(id);
      if (el) return el;
    }
    return null;
  }

  /** Scroll to a lane item (or a fact, or the suggested fix), focus it and flash it. */
  focusItem(id) {
    const fixCard = this.sections.fix.card;
    const el = this.itemElement(id) || this.sections.facts.factElement(id) || (fixCard?.dataset.fixId === id ? fixCard : null);
    if (!el) {
      toast({ tone: "info", title: "Not in the task lane", message: "That item was dismissed or is no longer in the lane." });
      return false;
    }
    el.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    if (typeof el.focusItem === "function") el.focusItem();
    else {
      el.tabIndex = -1;
      el.focus({ preventScroll: true });
    }
    flash(el);
    return true;
  }

  // ---- Writes -------------------------------------------------------------------------------
  // Each write goes to the store's session; its reply is applied to that store, which ignores it
  // once another session is shown.

  /** Apply an ItemUpdate: the lane, the fact (highlighted), and the synthesis outcome. */
  #applyUpdate(store, update, item) {
    if (update.task_lane) store.setLane(update.task_lane);
    if (update.fact) {
      store.upsertFact(update.fact);
      return;
    }
    // A changed answer retires the old fact on the server; mirror that here.
    store.removeFacts((f) => f.source_ref === item.id && !f.editable);
    if (store.closed) return;
    if (update.synthesis_error) {
      toast({
        tone: "warning",
        title: item.kind === "question" ? "Answer saved" : "Output saved",
        message: "FlowPilot couldn't check what it tells us right now. You can add it to What We Know yourself.",
        actions: [{ label: "Promote", run: () => this.promote(item.id).catch(() => {}) }],
      });
    } else {
      const el = this.itemElement(item.id);
      el?.querySelector("[data-action=promote]")?.setAttribute(
        "title",
        "FlowPilot found nothing conclusive in it: add it yourself if it matters",
      );
    }
  }

  async #record(itemId, path, body) {
    const store = this.store;
    const item = store.findItem(itemId) || { id: itemId, kind: "question", text: "" };
    this.sections.facts.setPending(item, true);
    try {
      const update = await store.write(`/task-lane/${encodeURIComponent(itemId)}/${path}`, { body });
      this.#applyUpdate(store, update, item);
      return update;
    } finally {
      if (this.store === store) this.sections.facts.setPending(item, false);
    }
  }

  /** Answer a question (POST …/answer); resolves with the ItemUpdate. */
  answer(itemId, answer) {
    return this.#record(itemId, "answer", { answer });
  }

  /** Record a check's or action's output (POST …/output, 64 KB at most: a 413 rejects with the server's detail). */
  recordOutput(itemId, output) {
    return this.#record(itemId, "output", { output });
  }

  async dismiss(itemId) {
    const store = this.store;
    const item = store.findItem(itemId);
    try {
      const update = await store.write(`/task-lane/${encodeURIComponent(itemId)}/dismiss`);
      if (store.closed) return update;
      const next = this.#nextFocus(itemId);
      store.setLane(update.task_lane);
      next?.focus();
      const kind = { check: "Check", action: "Action" }[item?.kind] || "Question";
      toast({ tone: "info", title: `${kind} dismissed`, message: item?.text || "" });
      return update;
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't dismiss", message: error.message });
      throw error;
    }
  }

  /**
   * A fact written on its own (a note, an edit, a promotion, a deletion): the reply is the fact,
   * without the state_version the write moved, so the facts are read again to follow it.
   */
  #followVersion(store) {
    store.reloadFacts().catch(() => {}); // the fact itself is shown already; a failed re-read changes nothing
  }

  /**
   * Record the technician's decision on the active fix (POST …/decision). The reply is the fix alone,
   * so the fixes are read again to follow the state_version the decision moved.
   */
  async decideFix(fixId, decision) {
    const store = this.store;
    const fix = await store.write(`/suggested-fixes/${encodeURIComponent(fixId)}/decision`, { body: { decision } });
    store.setFix(fix);
    store.reloadFixes().catch(() => {}); // the decision is shown already; a failed re-read changes nothing
    return fix;
  }

  /** Promote an answered question or a done check by hand (POST /facts/promote). */
  async promote(itemId) {
    const store = this.store;
    try {
      const fact = await store.write("/facts/promote", { body: { source_ref: itemId } });
      store.upsertFact(fact);
      this.#followVersion(store);
      return fact;
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't add it to What We Know", message: error.message });
      throw error;
    }
  }

  async addNote(text) {
    const store = this.store;
    const fact = await store.write("/facts", { body: { text } });
    store.upsertFact(fact);
    this.#followVersion(store);
    return fact;
  }

  /** Save an edited fact; the item element shows the saved text itself (no flash of a re-render). */
  async editFact(factId, text) {
    const store = this.store;
    const fact = await store.write(`/facts/${encodeURIComponent(factId)}`, { method: "PATCH", body: { text } });
    store.upsertFact(fact);
    this.#followVersion(store);
    return fact;
  }

  async deleteFact(factId) {
    const store = this.store;
    try {
      await store.write(`/facts/${encodeURIComponent(factId)}`, { method: "DELETE" });
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't delete the fact", message: error.message });
      throw error;
    }
    const el = this.sections.facts.factElement(factId);
    const li = el?.closest("li");
    const next = li?.nextElementSibling || li?.previousElementSibling;
    store.removeFacts((f) => f.id === factId);
    this.#followVersion(store);
    if (store.closed) return;
    (next?.querySelector(".fp-fact__text") || this.sections.facts.addButton)?.focus();
    toast({ tone: "success", title: "Fact deleted" });
  }

  /** Where focus goes when item `id` disappears: the next item, the previous one, or the section. */
  #nextFocus(id) {
    const el = this.itemElement(id);
    const li = el?.closest("li");
    const sibling = li?.nextElementSibling || li?.previousElementSibling;
    const target = sibling?.firstElementChild;
    if (target) {
      target.tabIndex = -1;
      return target;
    }
    const title = el?.closest(".fp-lane-section")?.querySelector(".fp-lane-section__title");
    if (title) title.tabIndex = -1;
    return title;
  }
}
