// <fp-task-lane> — What We Know above Questions and Diagnostic Checks (and Actions when there are
// any), then the Suggested fix. It owns the lane's server state for one session (GET /task-lane,
// GET /facts), renders it into its sections, and is the one place that writes it: answers, check
// output, dismissals, promotions and notes. Every write applies the server's reply in place (an
// ItemUpdate carries the item, the new lane and the fact it produced), so nothing needs a reload;
// a chat turn is applied with applyTurn(). A reload rebuilds everything from the server.
import { api, apiOptional } from "../api.js";
import { h } from "../dom.js";
import { toast } from "../components/fp-toaster.js";
import { emptyState } from "../components/ui.js";
import { FpLaneSection, itemText } from "./lane-section.js";
import { FpWhatWeKnow, FpWhatWeKnowItem, FpAddNoteButton, flash } from "./what-we-know.js";
import { FpQuestions, FpDiagnosticChecks, FpLaneActions, FpQuestionItem, FpCheckItem, FpActionItem } from "./lane-items.js";

export { FpLaneSection, itemText };

const EMPTY_LANE = { questions: [], checks: [], actions: [] };

export class FpTaskLane extends HTMLElement {
  static define(tag = "fp-task-lane", registry = customElements) {
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }

  /** Define the lane and every element it renders. */
  static defineAll() {
    [FpLaneSection, FpWhatWeKnow, FpWhatWeKnowItem, FpAddNoteButton, FpQuestions, FpDiagnosticChecks, FpLaneActions,
      FpQuestionItem, FpCheckItem, FpActionItem, FpTaskLane].forEach((c) => c.define());
  }

  session = null;
  lane = EMPTY_LANE;
  facts = [];
  #sessionId = null;
  #readOnly = false;
  #loaded = { lane: false, facts: false };

  connectedCallback() {
    if (this.sections) return;
    const section = (tag, key, attrs) => h(tag, { "data-section": key, ...attrs });
    this.sections = {
      facts: section("fp-what-we-know", "what-we-know", { heading: "What We Know", icon: "notebook", "empty-title": "No facts yet",
        "empty-body": "Confirmed answers and check results collect here as you work the ticket. Add your own notes too." }),
      questions: section("fp-questions", "questions", { heading: "Questions", icon: "help", "empty-title": "No open questions",
        "empty-body": "FlowPilot asks here when it needs something from you or the user." }),
      checks: section("fp-diagnostic-checks", "checks", { heading: "Diagnostic Checks", icon: "terminal", "empty-title": "No checks proposed",
        "empty-body": "Checks FlowPilot proposes appear here, with the command to run and a place to paste its output." }),
      actions: section("fp-lane-actions", "actions", { heading: "Actions", icon: "list-checks", hidden: true,
        "empty-title": "No actions", "empty-body": "Steps FlowPilot asks you to carry out appear here." }),
      fix: section("fp-lane-section", "suggested-fix", { heading: "Suggested fix", icon: "wrench", "empty-title": "No suggested fix yet",
        "empty-body": "When the facts point to a cause, FlowPilot suggests a fix here for you to review." }),
    };
    this.append(...Object.values(this.sections));
    this.addEventListener("fp-focus-item", (event) => {
      event.stopPropagation();
      this.focusItem(event.detail.id);
    });
  }

  get sessionId() { return this.#sessionId; }
  get readOnly() { return this.#readOnly; }

  /** Session metadata (status decides whether the lane can be worked). Doesn't reload anything. */
  setSession(session) {
    this.session = session;
    const readOnly = Boolean(session?.status && session.status !== "open");
    if (readOnly !== this.#readOnly) {
      this.#readOnly = readOnly;
      this.dataset.readonly = String(readOnly);
      if (this.#loaded.lane) this.setLane(this.lane);
    }
  }

  /** Load the lane and the facts of session `session` (an id or {id, status, pending_task_lane}). */
  async load(session, { signal } = {}) {
    const id = typeof session === "string" ? session : session?.id;
    for (const s of Object.values(this.sections)) s.setLoading();
    this.sections.actions.hidden = true;
    this.#sessionId = id;
    this.#loaded = { lane: false, facts: false };
    this.lane = EMPTY_LANE;
    this.facts = [];
    this.dispatchEvent(new CustomEvent("fp-lane-change", { bubbles: true, detail: { lane: this.lane } }));
    if (typeof session === "object") this.setSession(session);
    this.sections.fix.setItems([]);
    if (!id) return;
    const base = `/api/v1/ai-sessions/${encodeURIComponent(id)}`;
    const lane = apiOptional(`${base}/task-lane`, null, { signal })
      .then((data) => {
        if (signal?.aborted || this.#sessionId !== id) return;
        this.setLane(data || (typeof session === "object" && session.pending_task_lane) || EMPTY_LANE);
      })
      .catch((error) => {
        if (error.name === "AbortError") return;
        for (const key of ["questions", "checks"]) {
          this.sections[key].setContent(emptyState({ variant: "compact", icon: "alert-circle", title: "Couldn't load the task lane", body: error.message }));
        }
      });
    await Promise.all([lane, this.loadFacts({ signal })]);
  }

  async loadFacts({ signal } = {}) {
    const id = this.#sessionId;
    if (!id) return;
    try {
      const data = await apiOptional(`/api/v1/ai-sessions/${encodeURIComponent(id)}/facts`, { items: [] }, { signal });
      if (signal?.aborted || this.#sessionId !== id) return;
      this.setFacts(Array.isArray(data) ? data : data?.items || []);
    } catch (error) {
      if (error.name === "AbortError") return;
      this.sections.facts.setContent(emptyState({ variant: "compact", icon: "alert-circle", title: "Couldn't load facts", body: error.message }));
    }
  }

  // ---- Rendering ------------------------------------------------------------------------------

  /** Show a task lane ({questions, checks, actions}); `highlight` ids flash (new items from a turn). */
  setLane(lane = {}, { highlight = [] } = {}) {
    this.lane = { questions: lane.questions || [], checks: lane.checks || [], actions: lane.actions || [] };
    this.#loaded.lane = true;
    const context = (item) => ({ readOnly: this.#readOnly, hasFact: this.facts.some((f) => f.source_ref === item.id) });
    this.sections.questions.setLaneItems(this.lane.questions, context);
    this.sections.checks.setLaneItems(this.lane.checks, context);
    this.sections.actions.setLaneItems(this.lane.actions, context);
    for (const id of highlight) flash(this.itemElement(id));
    this.dispatchEvent(new CustomEvent("fp-lane-change", { bubbles: true, detail: { lane: this.lane } }));
    if (this.#loaded.facts) this.#renderFacts(); // sources ("From question: …") may have changed
  }

  setFacts(facts) {
    this.facts = [...facts];
    this.#loaded.facts = true;
    this.#renderFacts();
    if (this.#loaded.lane) this.setLane(this.lane); // "Add to What We Know" depends on the facts
  }

  #renderFacts() {
    this.sections.facts.setFacts(this.facts, (fact) => this.findItem(fact.source_ref));
  }

  /** Add or replace a fact; `highlight` flashes it. */
  upsertFact(fact, { highlight = true } = {}) {
    if (!fact) return;
    const index = this.facts.findIndex((f) => f.id === fact.id);
    // One live fact per source: a changed answer retires the previous fact on the server.
    const replaced = fact.source_ref ? this.facts.filter((f) => f.id !== fact.id && f.source_ref === fact.source_ref && !f.editable) : [];
    this.facts = this.facts.filter((f) => !replaced.includes(f));
    if (index >= 0) this.facts = this.facts.map((f) => (f.id === fact.id ? fact : f));
    else this.facts.push(fact);
    this.setFacts(this.facts);
    if (highlight) flash(this.sections.facts.factElement(fact.id));
  }

  findItem(id) {
    if (!id) return null;
    for (const key of ["questions", "checks", "actions"]) {
      const item = (this.lane[key] || []).find((i) => i.id === id);
      if (item) return item;
    }
    return null;
  }

  itemElement(id) {
    for (const key of ["questions", "checks", "actions"]) {
      const el = this.sections[key].itemElement(id);
      if (el) return el;
    }
    return null;
  }

  /** Scroll to a lane item (or a fact), focus it and flash it. */
  focusItem(id) {
    const el = this.itemElement(id) || this.sections.facts.factElement(id);
    if (!el) {
      toast({ tone: "info", title: "Not in the task lane", message: "That item was dismissed or is no longer in the lane." });
      return false;
    }
    el.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    if (typeof el.focusItem === "function") el.focusItem();
    else { el.tabIndex = -1; el.focus({ preventScroll: true }); }
    flash(el);
    return true;
  }

  // ---- Writes -------------------------------------------------------------------------------

  #url(path = "") { return `/api/v1/ai-sessions/${encodeURIComponent(this.#sessionId)}${path}`; }

  /** Apply a chat turn (ChatTurn): the new lane, new items highlighted, facts it added. */
  applyTurn(turn = {}) {
    if (turn.task_lane) this.setLane(turn.task_lane, { highlight: (turn.added_items || []).map((i) => i.id) });
    for (const fact of turn.facts_added || []) this.upsertFact(fact);
  }

  /** Apply an ItemUpdate: the lane, the fact (highlighted), and the synthesis outcome. */
  #applyUpdate(update, item) {
    if (update.task_lane) this.setLane(update.task_lane);
    if (update.fact) {
      this.upsertFact(update.fact);
      return;
    }
    // A changed answer retires the old fact on the server; mirror that here.
    const stale = this.facts.filter((f) => f.source_ref === item.id && !f.editable);
    if (stale.length) this.setFacts(this.facts.filter((f) => !stale.includes(f)));
    if (update.synthesis_error) {
      toast({
        tone: "warning", title: item.kind === "question" ? "Answer saved" : "Output saved",
        message: "FlowPilot couldn't check what it tells us right now. You can add it to What We Know yourself.",
        actions: [{ label: "Promote", run: () => this.promote(item.id).catch(() => {}) }],
      });
    } else {
      const el = this.itemElement(item.id);
      el?.querySelector("[data-action=promote]")?.setAttribute("title", "FlowPilot found nothing conclusive in it: add it yourself if it matters");
    }
  }

  async #record(itemId, path, body) {
    const item = this.findItem(itemId) || { id: itemId, kind: "question", text: "" };
    const sessionId = this.#sessionId;
    this.sections.facts.setPending(item, true);
    try {
      const update = await api(this.#url(`/task-lane/${encodeURIComponent(itemId)}/${path}`), { method: "POST", body });
      if (this.#sessionId === sessionId) this.#applyUpdate(update, item); // not if another session is shown now
      return update;
    } finally {
      if (this.#sessionId === sessionId) this.sections.facts.setPending(item, false);
    }
  }

  /** Answer a question (POST …/answer); resolves with the ItemUpdate. */
  answer(itemId, answer) { return this.#record(itemId, "answer", { answer }); }

  /** Record a check's or action's output (POST …/output, 64 KB at most: a 413 rejects with the server's detail). */
  recordOutput(itemId, output) { return this.#record(itemId, "output", { output }); }

  async dismiss(itemId) {
    const item = this.findItem(itemId);
    try {
      const update = await api(this.#url(`/task-lane/${encodeURIComponent(itemId)}/dismiss`), { method: "POST" });
      const next = this.#nextFocus(itemId);
      if (update.task_lane) this.setLane(update.task_lane);
      next?.focus();
      toast({ tone: "info", title: item?.kind === "check" ? "Check dismissed" : item?.kind === "action" ? "Action dismissed" : "Question dismissed",
        message: item ? itemText(item) : "" });
      return update;
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't dismiss", message: error.message });
      throw error;
    }
  }

  /** Promote an answered question or a done check by hand (POST /facts/promote). */
  async promote(itemId) {
    try {
      const fact = await api(this.#url("/facts/promote"), { method: "POST", body: { source_ref: itemId } });
      this.upsertFact(fact);
      return fact;
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't add it to What We Know", message: error.message });
      throw error;
    }
  }

  async addNote(text) {
    const fact = await api(this.#url("/facts"), { method: "POST", body: { text } });
    this.upsertFact(fact);
    return fact;
  }

  async editFact(factId, text) {
    const fact = await api(this.#url(`/facts/${encodeURIComponent(factId)}`), { method: "PATCH", body: { text } });
    this.facts = this.facts.map((f) => (f.id === fact.id ? fact : f));
    return fact;
  }

  async deleteFact(factId) {
    try {
      await api(this.#url(`/facts/${encodeURIComponent(factId)}`), { method: "DELETE" });
    } catch (error) {
      toast({ tone: "danger", title: "Couldn't delete the fact", message: error.message });
      throw error;
    }
    const el = this.sections.facts.factElement(factId);
    const li = el?.closest("li");
    const next = li?.nextElementSibling || li?.previousElementSibling;
    this.setFacts(this.facts.filter((f) => f.id !== factId));
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
