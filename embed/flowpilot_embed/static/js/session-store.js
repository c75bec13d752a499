// One store per shown session: the session, its task lane, its facts and its `stateVersion`
// (the server's counter of fact changes, which the preview refresh keys on). Views read it and
// subscribe to it; nothing else holds a copy. Each kind of change has exactly one writer:
//   setSession(session)  → "session"        setLane(lane, {highlight}) → "lane"
//   setFacts(facts)      → "facts"          noteStateVersion(n)        → "state-version"
//   setFix(fix, {history}) → "fix" (the active suggested fix and the earlier ones, newest first)
// plus "continue-due" when an item update says the technician has settled, in the lane, what the
// last reply asked (the chat then moves the conversation on: POST .../messages/continue).
// and applyResponse(data) feeds any response that carries `state_version` (a session, a fact
// list, an item update, a chat turn) to noteStateVersion, so the counter follows every one.
//
// open() fills it with one request (GET .../open: the session, its lane, facts and fixes, and the
// most recent messages, read in one transaction); later reads refresh one part at a time.
//
// A store belongs to one session for its whole life. Showing another session closes it: its
// reads are aborted, its subscriptions removed, and a response that still arrives for it is
// dropped by the writers, so a view never shows another session's data, even for a moment.
import { api } from "./api.js";

const EMPTY_LANE = Object.freeze({ questions: [], checks: [], actions: [] });
const LANE_KINDS = ["questions", "checks", "actions"];

export class SessionStore extends EventTarget {
  #abort = new AbortController();

  /** @param {string} id the session id */
  constructor(id) {
    super();
    this.id = id;
    this.session = null;
    this.lane = EMPTY_LANE;
    this.facts = [];
    this.fix = null; // the active suggested fix
    this.fixHistory = []; // every fix of the session, newest first (the active one included)
    this.stateVersion = null; // unknown until a response carries it
    this.loaded = { session: false, lane: false, facts: false, fix: false };
  }

  /** Aborted when the store closes: pass it to every read made for this session. */
  get signal() {
    return this.#abort.signal;
  }

  get closed() {
    return this.#abort.signal.aborted;
  }

  close() {
    this.#abort.abort();
  }

  /** Subscribe to one kind of change; `callback(store, detail)`. Unsubscribed when the store closes. */
  on(type, callback) {
    const listener = (event) => callback(this, event.detail);
    this.addEventListener(type, listener, { signal: this.signal });
    return () => this.removeEventListener(type, listener);
  }

  /** The API path of this session, or of `path` under it. */
  url(path = "") {
    return `/api/v1/ai-sessions/${encodeURIComponent(this.id)}${path}`;
  }

  /** GET `path` under the session; aborted (AbortError) when the store closes, even if the response came. */
  async read(path = "", { ifNoneMatch } = {}) {
    const data = await api(this.url(path), { signal: this.signal, ifNoneMatch });
    if (this.closed) throw new DOMException("The session is no longer shown", "AbortError");
    return data;
  }

  /**
   * A write (POST, PATCH, DELETE) under the session. Never aborted: the technician's answer must
   * reach the server even if they switch sessions; its reply is applied only while the store is open.
   */
  async write(path, { method = "POST", body } = {}) {
    const data = await api(this.url(path), { method, body });
    if (data && typeof data === "object") this.applyResponse(data);
    return data;
  }

  /**
   * Read everything shown when the session opens (GET .../open) into the store, and resolve with
   * the whole transcript ({items}): the response's recent messages, preceded by the older ones
   * (GET .../messages?before=) when the session has more than one page of them.
   */
  async open() {
    const data = await this.read("/open");
    this.setSession(data.session);
    this.setLane(data.session.pending_task_lane);
    this.setFacts(data.facts.items);
    this.setFix(data.suggested_fixes.active, { history: data.suggested_fixes.history });
    const { items, older_cursor: before } = data.messages;
    if (!before) return { items };
    const older = await this.read(`/messages?${new URLSearchParams({ before })}`);
    return { items: [...older.items, ...items] };
  }

  // ---- Writers (each the only one for its kind of change) ------------------------------------

  setSession(session) {
    if (this.closed || session?.id !== this.id) return;
    this.session = session;
    this.loaded.session = true;
    this.#emit("session", { session });
    this.noteStateVersion(session.state_version);
  }

  /** The lane ({questions, checks, actions}); `highlight` names the ids a chat turn added. */
  setLane(lane, { highlight = [] } = {}) {
    if (this.closed) return;
    this.lane = Object.fromEntries(LANE_KINDS.map((kind) => [kind, Array.isArray(lane?.[kind]) ? lane[kind] : []]));
    this.loaded.lane = true;
    this.#emit("lane", { lane: this.lane, highlight });
  }

  /** The facts, in order; `highlight` names a fact that just arrived or changed. */
  setFacts(facts, { highlight = null } = {}) {
    if (this.closed) return;
    this.facts = [...facts];
    this.loaded.facts = true;
    this.#emit("facts", { facts: this.facts, highlight });
  }

  /**
   * The active suggested fix (or null) and, with `history`, every fix of the session newest first.
   * Without `history` (a chat turn made `fix` active) the one it replaces is kept as superseded.
   */
  setFix(fix, { history } = {}) {
    if (this.closed || (fix && fix.session_id !== this.id)) return;
    if (history) this.fixHistory = [...history];
    else if (fix) {
      const earlier = this.fixHistory
        .filter((f) => f.id !== fix.id)
        .map((f) => (f.status === "active" ? { ...f, status: "superseded", superseded_by_id: fix.id } : f));
      this.fixHistory = [fix, ...earlier];
    }
    this.fix = fix || null;
    this.loaded.fix = true;
    this.#emit("fix", { fix: this.fix, history: this.fixHistory });
  }

  /** The server's state_version; it only moves forward (a late reply never winds it back). */
  noteStateVersion(version) {
    if (this.closed || !Number.isInteger(version)) return;
    if (this.stateVersion !== null && version <= this.stateVersion) return;
    this.stateVersion = version;
    this.#emit("state-version", { stateVersion: version });
  }

  // ---- Derived updates (built on the writers above) -------------------------------------------

  /** Apply whatever a response carries that the store holds: today its `state_version`. */
  applyResponse(data) {
    if (data && Number.isInteger(data.state_version)) this.noteStateVersion(data.state_version);
    if (data?.continue_due === true && !this.closed) this.#emit("continue-due", {});
  }

  /** Add or replace a fact. One live fact per source: a changed answer retires the previous one. */
  upsertFact(fact) {
    if (!fact) return;
    const replaced = (f) => f.id !== fact.id && fact.source_ref && f.source_ref === fact.source_ref && !f.editable;
    const kept = this.facts.filter((f) => !replaced(f));
    const next = kept.some((f) => f.id === fact.id) ? kept.map((f) => (f.id === fact.id ? fact : f)) : [...kept, fact];
    this.setFacts(next, { highlight: fact.id });
  }

  removeFacts(predicate) {
    const next = this.facts.filter((f) => !predicate(f));
    if (next.length !== this.facts.length) this.setFacts(next);
  }

  /**
   * Read the facts again. A list older than what the store already knows (a lower state_version:
   * a chat turn added a fact while it was on its way) is dropped rather than shown.
   */
  async reloadFacts() {
    const data = await this.read("/facts");
    if (this.stateVersion !== null && data.state_version < this.stateVersion) return;
    this.setFacts(data.items);
    this.noteStateVersion(data.state_version);
  }

  /** Read the suggested fixes (GET /suggested-fixes): the active one, the history, the state_version. */
  async reloadFixes() {
    const data = await this.read("/suggested-fixes");
    if (this.stateVersion !== null && data.state_version < this.stateVersion && this.loaded.fix) return;
    this.setFix(data.active, { history: data.history });
    this.noteStateVersion(data.state_version);
  }

  /** A chat turn (ChatTurn): the new lane with its added items highlighted, the facts it added, its fix. */
  applyTurn(turn) {
    if (turn.task_lane) this.setLane(turn.task_lane, { highlight: (turn.added_items || []).map((i) => i.id) });
    for (const fact of turn.facts_added || []) this.upsertFact(fact);
    if (turn.suggested_fix) this.setFix(turn.suggested_fix);
    this.applyResponse(turn);
  }

  /** A lane item by id, in any section. */
  findItem(id) {
    if (!id) return null;
    for (const kind of LANE_KINDS) {
      const item = this.lane[kind].find((i) => i.id === id);
      if (item) return item;
    }
    return null;
  }

  /** Open questions, checks and actions: what waits for the technician. */
  get openItemCount() {
    return LANE_KINDS.reduce((n, kind) => n + this.lane[kind].filter((i) => i.status === "open").length, 0);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
