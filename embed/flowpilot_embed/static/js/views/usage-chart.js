// Per-day charts for the usage dashboard, drawn as inline SVG (no library). Each chart is a
// <figure>: the SVG is one image for assistive technology (role="img", a title and a one-sentence
// description of what it shows), every bar carries a <title> tooltip, and a "Show the numbers"
// table under it holds every value the bars show. The SVG keeps its aspect ratio (its text is never
// stretched) and scales with the panel's width.
import { h, uniqueId } from "../dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 180;
const PAD = { top: 12, right: 8, bottom: 22, left: 56 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") el.textContent = String(value);
    else if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

/**
 * A table's scroll container. It can scroll (a long table, a narrow screen), so it is a named region
 * in the tab order: keyboard users can scroll it too.
 */
export function tableRegion(label, table) {
  return h("div", { class: "fp-usage-table-wrap", role: "region", "aria-label": label, tabindex: "0" }, table);
}

/** "1 Dec" for "2026-12-01" (the date is a calendar day, so it is read as UTC, never shifted). */
export function dayLabel(iso) {
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}

/** A round upper bound for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceMax(max) {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= max);
}

/**
 * barChart({title, description, days, series, format, columnLabel})
 * days: ["2026-12-01", ...]; series: [{key, label, tone, values: [number per day]}], stacked in order.
 * format(value) renders an axis label, a tooltip and a table cell.
 */
export function barChart({ title, description, days, series, format, columnLabel = "Day" }) {
  const titleId = uniqueId("fp-chart-title");
  const descId = uniqueId("fp-chart-desc");
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const top = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const y = (value) => PAD.top + plotH - (value / top) * plotH;

  const grid = [0, 0.5, 1].map((f) =>
    svg(
      "g",
      { class: "fp-chart__grid" },
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(top * f), y2: y(top * f) }),
      svg("text", { x: PAD.left - 6, y: y(top * f) + 4, "text-anchor": "end", text: format(top * f) }),
    ),
  );
  const bars = days.map((day, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let base = 0;
    const parts = series.map((s) => {
      const value = s.values[i];
      const rect = svg("rect", {
        class: `fp-chart__bar fp-chart__bar--${s.tone}`,
        x,
        width: barW,
        y: y(base + value),
        height: y(base) - y(base + value),
      });
      base += value;
      return value > 0 ? rect : null;
    });
    const tip = [
      `${dayLabel(day)}: ${format(totals[i])}`,
      ...(series.length > 1 ? series.map((s) => `${s.label} ${format(s.values[i])}`) : []),
    ];
    // A full-height hit area, so a day with a tiny bar still shows its tooltip.
    return svg(
      "g",
      { class: "fp-chart__day", "data-day": day },
      svg("title", { text: tip.join("\n") }),
      svg("rect", { class: "fp-chart__hit", x: PAD.left + i * slot, width: slot, y: PAD.top, height: plotH }),
      parts,
    );
  });
  const tickEvery = Math.max(1, Math.ceil(days.length / 6));
  const ticks = days.map((day, i) =>
    i % tickEvery === 0 || i === days.length - 1
      ? svg("text", {
          class: "fp-chart__tick",
          x: PAD.left + i * slot + slot / 2,
          y: HEIGHT - 6,
          "text-anchor": "middle",
          text: dayLabel(day),
        })
      : null,
  );
  const chart = svg(
    "svg",
    {
      class: "fp-chart__svg",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
      preserveAspectRatio: "none",
    },
    svg("title", { id: titleId, text: title }),
    svg("desc", { id: descId, text: description }),
    grid,
    bars,
    ticks,
  );

  const legend =
    series.length > 1 &&
    h(
      "ul",
      { class: "fp-chart__legend", "aria-hidden": "true" },
      series.map((s) => h("li", {}, h("span", { class: `fp-chart__swatch fp-chart__bar--${s.tone}` }), s.label)),
    );
  const table = h(
    "table",
    { class: "fp-usage-table" },
    h("caption", { class: "fp-visually-hidden", text: title }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col", text: columnLabel }),
        series.length > 1 && series.map((s) => h("th", { scope: "col", class: "fp-num", text: s.label })),
        h("th", { scope: "col", class: "fp-num", text: "Total" }),
      ),
    ),
    h(
      "tbody",
      {},
      days.map((day, i) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", text: dayLabel(day) }),
          series.length > 1 && series.map((s) => h("td", { class: "fp-num", text: format(s.values[i]) })),
          h("td", { class: "fp-num", text: format(totals[i]) }),
        ),
      ),
    ),
  );
  return h(
    "figure",
    { class: "fp-chart" },
    h("figcaption", { class: "fp-chart__title", text: title }),
    legend,
    h("div", { class: "fp-chart__plot" }, chart),
    h("details", { class: "fp-chart__numbers" }, h("summary", { text: "Show the numbers" }), tableRegion(`${title}, the numbers`, table)),
  );
}
