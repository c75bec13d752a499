// <fp-usage-view> — the usage dashboard at /pilot/usage: what AI calls cost the account, what prompt
// caching saved, per day, service, model and session, and how much technicians edit FlowPilot's notes.
// Reads GET /api/v1/usage (for the chosen period) and GET /api/v1/note-quality. Session links emit
// "fp-navigate" {detail: {id}} like the session list.
import { FpElement } from "../components/fp-element.js";
import { api } from "../api.js";
import { h } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState, skeleton } from "../components/ui.js";
import { sessionHref } from "./session-list.js";
import { barChart, dayLabel, tableRegion } from "./usage-chart.js";

export const USAGE_PATH = "/pilot/usage";
const PERIODS = [7, 30, 90];
const BUSIEST = 10;
const SERVICES = {
  chat: "Chat",
  fact_synthesis: "Fact synthesis",
  resolution_note: "Resolution notes",
  escalation_package: "Escalation packages",
  template_extraction: "Script templates",
  script_generation: "Script generation",
  ai_parse: "Ticket parsing",
};
const NOTE_KINDS = { resolution: "Resolution notes", escalation: "Escalation packages" };

const usd = (value) =>
  new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 2,
    maximumFractionDigits: Math.abs(value) >= 1 || value === 0 ? 2 : 4,
  }).format(value);
const count = (value) => new Intl.NumberFormat().format(Math.round(value));
const compact = (value) => new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(value);
const percent = (value) => new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 }).format(value);
const tokens = (row) => row.input_tokens + row.cache_creation_input_tokens + row.cache_read_input_tokens + row.output_tokens;
const inputTokens = (row) => row.input_tokens + row.cache_creation_input_tokens + row.cache_read_input_tokens;

export function usageHref() {
  return `${USAGE_PATH}${location.search}`;
}

/** Every day from `since` to `until` (ISO dates), so days without calls show as empty bars. */
function daysBetween(since, until) {
  const days = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${until}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** The UTC day of `date` as YYYY-MM-DD: the server counts usage by UTC day. */
function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export class FpUsageView extends FpElement {
  static tag = "fp-usage-view";

  days = 30;
  #abort = null;

  connectedCallback() {
    if (this.body) return;
    this.periodButtons = PERIODS.map((days) =>
      h("button", {
        type: "button",
        "aria-pressed": String(days === this.days),
        "data-days": days,
        text: `${days} days`,
        onclick: () => {
          this.days = days;
          for (const b of this.periodButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
          this.show();
        },
      }),
    );
    this.periods = h("div", { class: "fp-segmented", role: "group", "aria-label": "Period" }, this.periodButtons);
    this.range = h("p", { class: "fp-usage__range" });
    this.body = h("div", { class: "fp-usage__body", "aria-live": "polite", "aria-busy": "true" });
    this.replaceChildren(
      h(
        "div",
        { class: "fp-usage__inner" },
        h(
          "header",
          { class: "fp-usage__header" },
          h("div", {}, h("h1", { class: "fp-usage__title", text: "Usage & cost" }), this.range),
          this.periods,
        ),
        this.body,
      ),
    );
  }

  /** Load and render the chosen period; a newer call cancels an older one still loading. */
  async show() {
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.dataset.state = "loading";
    this.body.setAttribute("aria-busy", "true");
    this.body.replaceChildren(
      h("p", { class: "fp-visually-hidden", role: "status", text: "Loading usage…" }),
      h(
        "div",
        { class: "fp-usage__stats" },
        [1, 2, 3, 4].map(() => h("div", { class: "fp-card fp-usage__stat" }, skeleton({ lines: 2 }))),
      ),
      h("div", { class: "fp-card fp-usage__panel" }, skeleton({ block: true, lines: 2 })),
    );
    // UTC days, as the server counts them: a local date would drop the evening's usage west of UTC.
    const until = new Date();
    const since = new Date(Date.UTC(until.getUTCFullYear(), until.getUTCMonth(), until.getUTCDate() - (this.days - 1)));
    const params = new URLSearchParams({ since: isoDay(since), until: isoDay(until) });
    try {
      const [usage, notes] = await Promise.all([
        api(`/api/v1/usage?${params}`, { signal: abort.signal }),
        api("/api/v1/note-quality", { signal: abort.signal }),
      ]);
      if (abort.signal.aborted) return;
      this.#render(usage, notes);
    } catch (error) {
      if (abort.signal.aborted || error.name === "AbortError") return;
      this.body.setAttribute("aria-busy", "false");
      if (error.status === 403) {
        // A technician's token: nothing to retry and no period to choose; say whose page this is.
        this.dataset.state = "forbidden";
        this.periods.hidden = true;
        this.body.replaceChildren(
          emptyState({
            variant: "page",
            icon: "lock",
            title: "Usage & cost is for MSP admins",
            body: "Ask your MSP admin: their portal sign-in shows what FlowPilot's AI costs the account.",
          }),
        );
        return;
      }
      this.dataset.state = "error";
      this.body.replaceChildren(
        emptyState({
          variant: "page",
          icon: "alert-circle",
          title: "Usage couldn't be loaded",
          body: error.message || "The server did not answer.",
          actions: [h("button", { type: "button", class: "fp-btn", onclick: () => this.show() }, icon("refresh"), "Try again")],
        }),
      );
    }
  }

  #render(usage, notes) {
    this.periods.hidden = false;
    this.range.textContent = `${dayLabel(usage.since)} – ${dayLabel(usage.until)} (UTC days)`;
    this.body.setAttribute("aria-busy", "false");
    const t = usage.totals;
    if (!t.calls) {
      this.dataset.state = "empty";
      this.body.replaceChildren(
        emptyState({
          variant: "page",
          icon: "chart",
          title: "No AI usage in this period",
          body: "Cost, tokens and what prompt caching saved appear here after the first chat turn of a session.",
        }),
        this.#notes(notes),
      );
      return;
    }
    this.dataset.state = "ready";
    this.body.replaceChildren(
      this.#stats(t),
      this.#footnotes(t),
      this.#charts(usage),
      h(
        "div",
        { class: "fp-usage__split" },
        this.#breakdown("By service", usage.by_service, (k) => SERVICES[k] || k),
        this.#breakdown("By model", usage.by_model, (k) => k, true),
      ),
      this.#sessions(usage.by_session),
      this.#notes(notes),
    );
  }

  #stats(t) {
    const savedShare = t.uncached_cost_usd > 0 ? t.saved_usd / t.uncached_cost_usd : 0;
    const readShare = inputTokens(t) > 0 ? t.cache_read_input_tokens / inputTokens(t) : 0;
    const stat = (key, label, value, detail) =>
      h(
        "div",
        { class: "fp-card fp-usage__stat", "data-stat": key },
        h("div", { class: "fp-overline", text: label }),
        h("div", { class: "fp-usage__stat-value", text: value }),
        h("div", { class: "fp-usage__stat-detail", text: detail }),
      );
    return h(
      "div",
      { class: "fp-usage__stats" },
      stat("cost", "Cost", usd(t.cost_usd), `${usd(t.uncached_cost_usd)} without prompt caching`),
      stat("saved", "Saved by caching", usd(t.saved_usd), `${percent(savedShare)} of the uncached cost`),
      stat("tokens", "Tokens", compact(tokens(t)), `${percent(readShare)} of input read from cache`),
      stat("calls", "AI calls", count(t.calls), t.failed_calls ? `${count(t.failed_calls)} failed` : "none failed"),
    );
  }

  #footnotes(t) {
    const notes = [];
    if (t.estimated_calls)
      notes.push(
        `${count(t.estimated_calls)} of ${count(t.calls)} calls ran on the offline model: their tokens are estimated and nothing was billed. Costs show what the same tokens would cost on the model.`,
      );
    if (t.unreported_calls)
      notes.push(
        `${count(t.unreported_calls)} calls came from a model server that reports no usage: their tokens and cost are unknown, not zero.`,
      );
    return (
      notes.length > 0 &&
      h(
        "div",
        { class: "fp-usage__notes" },
        notes.map((text) => h("p", { class: "fp-help" }, icon("info", "sm"), h("span", { text }))),
      )
    );
  }

  #charts(usage) {
    const days = daysBetween(usage.since, usage.until);
    const byDay = new Map(usage.by_day.map((row) => [row.key, row]));
    const values = (pick) => days.map((d) => (byDay.has(d) ? pick(byDay.get(d)) : 0));
    const cost = values((r) => r.cost_usd);
    const busiest = cost.reduce((best, value, i) => (value > cost[best] ? i : best), 0);
    const active = usage.by_day.length;
    const costChart = barChart({
      title: "Cost per day",
      description: `Cost per day over ${days.length} days: ${usd(usage.totals.cost_usd)} in all, on ${active} day${active === 1 ? "" : "s"} with calls; the most on ${dayLabel(days[busiest])}, ${usd(cost[busiest])}.`,
      days,
      series: [{ key: "cost", label: "Cost", tone: "accent", values: cost }],
      format: usd,
    });
    const tokenSeries = [
      { key: "read", label: "Cache read", tone: "success", values: values((r) => r.cache_read_input_tokens) },
      { key: "write", label: "Cache write", tone: "warning", values: values((r) => r.cache_creation_input_tokens) },
      { key: "input", label: "Input", tone: "accent", values: values((r) => r.input_tokens) },
      { key: "output", label: "Output", tone: "info", values: values((r) => r.output_tokens) },
    ];
    const tokenChart = barChart({
      title: "Tokens per day",
      description: `Tokens per day over ${days.length} days, split into cache reads, cache writes, uncached input and output: ${count(tokens(usage.totals))} in all.`,
      days,
      series: tokenSeries,
      format: compact,
    });
    return h("section", { class: "fp-card fp-usage__panel fp-usage__charts", "aria-label": "Per day" }, costChart, tokenChart);
  }

  #breakdown(title, rows, label, mono = false) {
    const total = rows.reduce((sum, r) => sum + r.cost_usd, 0);
    return h(
      "section",
      { class: "fp-card fp-usage__panel", "data-breakdown": title === "By service" ? "service" : "model" },
      h("h2", { class: "fp-usage__panel-title", text: title }),
      tableRegion(
        title,
        h(
          "table",
          { class: "fp-usage-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", text: title === "By service" ? "Service" : "Model" }),
              h("th", { scope: "col", class: "fp-num", text: "Calls" }),
              h("th", { scope: "col", class: "fp-num", text: "Tokens" }),
              h("th", { scope: "col", class: "fp-num", text: "Cost" }),
              h("th", { scope: "col", class: "fp-num", text: "Saved" }),
            ),
          ),
          h(
            "tbody",
            {},
            rows.map((row) => {
              const share = total > 0 ? row.cost_usd / total : 0;
              const bar = h("span", { class: "fp-usage__share-bar" });
              bar.style.setProperty("width", `${(share * 100).toFixed(1)}%`); // CSSOM: allowed under style-src 'self'
              return h(
                "tr",
                { "data-key": row.key },
                h(
                  "th",
                  { scope: "row" },
                  h("span", { class: mono ? "fp-usage__mono" : "", text: label(row.key) }),
                  h("span", { class: "fp-usage__share", title: `${percent(share)} of the cost` }, bar),
                ),
                h("td", { class: "fp-num", text: count(row.calls) }),
                h("td", { class: "fp-num", text: compact(tokens(row)) }),
                h("td", { class: "fp-num", text: usd(row.cost_usd) }),
                h("td", { class: "fp-num", text: usd(row.saved_usd) }),
              );
            }),
          ),
        ),
      ),
    );
  }

  #sessions(rows) {
    const busiest = rows.slice(0, BUSIEST);
    const link = (row) =>
      h("a", {
        href: sessionHref(row.key),
        "data-id": row.key,
        text: row.label || "Untitled session",
        onclick: (event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          this.dispatchEvent(new CustomEvent("fp-navigate", { bubbles: true, detail: { id: row.key } }));
        },
      });
    return h(
      "section",
      { class: "fp-card fp-usage__panel", "data-section": "sessions" },
      h("h2", { class: "fp-usage__panel-title", text: "Busiest sessions" }),
      busiest.length === 0
        ? emptyState({ variant: "inline", title: "No session used AI in this period." })
        : tableRegion(
            "Busiest sessions",
            h(
              "table",
              { class: "fp-usage-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col", text: "Session" }),
                  h("th", { scope: "col", class: "fp-num", text: "Calls" }),
                  h("th", { scope: "col", class: "fp-num", text: "Tokens" }),
                  h("th", { scope: "col", class: "fp-num", text: "From cache" }),
                  h("th", { scope: "col", class: "fp-num", text: "Cost" }),
                ),
              ),
              h(
                "tbody",
                {},
                busiest.map((row) =>
                  h(
                    "tr",
                    { "data-key": row.key },
                    h("th", { scope: "row" }, link(row)),
                    h("td", { class: "fp-num", text: count(row.calls) }),
                    h("td", { class: "fp-num", text: compact(tokens(row)) }),
                    h("td", { class: "fp-num", text: percent(inputTokens(row) ? row.cache_read_input_tokens / inputTokens(row) : 0) }),
                    h("td", { class: "fp-num", text: usd(row.cost_usd) }),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  #notes(report) {
    const items = report.items.filter((i) => i.confirmed > 0);
    return h(
      "section",
      { class: "fp-card fp-usage__panel", "data-section": "note-quality" },
      h("h2", { class: "fp-usage__panel-title", text: "Note quality" }),
      h("p", {
        class: "fp-help",
        text: "How much technicians edit FlowPilot's notes before they post them: fewer edits, better notes. All time.",
      }),
      items.length === 0
        ? emptyState({
            variant: "inline",
            title: "No note posted yet.",
            body: "Resolve or escalate a session to see how much its note was edited.",
          })
        : tableRegion(
            "Note quality",
            h(
              "table",
              { class: "fp-usage-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col", text: "Kind" }),
                  h("th", { scope: "col", class: "fp-num", text: "Posted" }),
                  h("th", { scope: "col", class: "fp-num", text: "Posted unedited" }),
                  h("th", { scope: "col", class: "fp-num", text: "Lines changed (mean)" }),
                  h("th", { scope: "col", class: "fp-num", text: "Lines changed (most)" }),
                ),
              ),
              h(
                "tbody",
                {},
                items.map((item) =>
                  h(
                    "tr",
                    { "data-kind": item.kind },
                    h("th", { scope: "row", text: NOTE_KINDS[item.kind] || item.kind }),
                    h("td", { class: "fp-num", text: count(item.confirmed) }),
                    h("td", { class: "fp-num", text: `${count(item.unedited)} (${percent(item.unedited / item.confirmed)})` }),
                    h("td", { class: "fp-num", text: item.mean_lines_changed.toFixed(1) }),
                    h("td", { class: "fp-num", text: count(item.max_lines_changed) }),
                  ),
                ),
              ),
            ),
          ),
    );
  }
}
