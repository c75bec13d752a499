// <fp-icon name="search" size="sm|lg|xl"> — a 24×24 stroke icon built with DOM calls (no innerHTML).
// Icons are decorative (aria-hidden) unless the element has an aria-label.
import { FpElement } from "./fp-element.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const circle = (cx, cy, r) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
const box = (x, y, w, h, r) =>
  `M${x + r} ${y}h${w - 2 * r}a${r} ${r} 0 0 1 ${r} ${r}v${h - 2 * r}a${r} ${r} 0 0 1 ${-r} ${r}h${-(w - 2 * r)}` +
  `a${r} ${r} 0 0 1 ${-r} ${-r}v${-(h - 2 * r)}a${r} ${r} 0 0 1 ${r} ${-r}z`;

export const ICONS = {
  plus: "M12 5v14M5 12h14",
  search: `${circle(11, 11, 6.5)}M20 20l-4.2-4.2`,
  x: "M6 6l12 12M18 6L6 18",
  "chevron-left": "M15 18l-6-6 6-6",
  "chevron-right": "M9 6l6 6-6 6",
  "chevron-down": "M6 9l6 6 6-6",
  "arrow-left": "M19 12H5M11 18l-6-6 6-6",
  message: "M5 4.5h14a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5h-8.5L6 20v-3.5H5A1.5 1.5 0 0 1 3.5 15V6A1.5 1.5 0 0 1 5 4.5z",
  send: "M21 3L10.5 13.5M21 3l-6.5 18-4-7.5L3 9.5z",
  "check-circle": `${circle(12, 12, 9)}M8.5 12.2l2.4 2.4 4.6-5`,
  help: `${circle(12, 12, 9)}M9.6 9.6a2.5 2.5 0 1 1 3.4 2.3c-.6.3-1 .8-1 1.5v.5M12 17h.01`,
  terminal: `${box(3, 4.5, 18, 15, 2)}M7 9.5l3 2.5-3 2.5M13 15h4`,
  notebook: `${box(5, 3, 14, 18, 1.5)}M9 3v18M12 8h4M12 12h4`,
  wrench: "M14.7 6.3a4 4 0 0 0-5.2 5.2L3.5 17.5V20.5h3l6-6a4 4 0 0 0 5.2-5.2l-2.5 2.5-2.3-.5-.5-2.3z",
  script: "M14 3H6.5A1.5 1.5 0 0 0 5 4.5v15A1.5 1.5 0 0 0 6.5 21h11a1.5 1.5 0 0 0 1.5-1.5V8zM14 3v5h5M10 12.5l-2 2 2 2M14 12.5l2 2-2 2",
  ticket: "M4 6.5h16v3.5a2 2 0 0 0 0 4v3.5H4V14a2 2 0 0 0 0-4zM14.5 6.5v2M14.5 11v2M14.5 15.5v2",
  "panel-right": `${box(3, 4, 18, 16, 2)}M15 4v16`,
  "panel-bottom": `${box(3, 4, 18, 16, 2)}M3 14.5h18`,
  sun: `${circle(12, 12, 4)}M12 2.5v2M12 19.5v2M5.3 5.3l1.4 1.4M17.3 17.3l1.4 1.4M2.5 12h2M19.5 12h2M5.3 18.7l1.4-1.4M17.3 6.7l1.4-1.4`,
  moon: "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
  alert: "M12 4l9 16H3zM12 10v4.5M12 17.2h.01",
  "alert-circle": `${circle(12, 12, 9)}M12 7.8v5M12 16.2h.01`,
  info: `${circle(12, 12, 9)}M12 11v5M12 7.8h.01`,
  inbox: "M3.5 13.5L6.5 5h11l3 8.5V19h-17zM3.5 13.5h5l1 2.5h5l1-2.5h5",
  sparkle: "M12 3.5l1.9 5 5 1.9-5 1.9-1.9 5-1.9-5-5-1.9 5-1.9zM18.5 15.5l.7 1.8 1.8.7-1.8.7-.7 1.8-.7-1.8-1.8-.7 1.8-.7z",
  escalate: "M7 17L17 7M8.5 7H17v8.5",
  clock: `${circle(12, 12, 9)}M12 7.5V12l3 2`,
  user: `${circle(12, 8.5, 3.8)}M4.5 20.5a7.5 7.5 0 0 1 15 0`,
  refresh: "M19.5 11A7.5 7.5 0 1 0 17.3 17.3M19.5 4.5V11H13",
  lock: `${box(5, 10.5, 14, 10, 2)}M8.5 10.5V7.5a3.5 3.5 0 0 1 7 0v3`,
  pencil: "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4",
  command:
    "M9 6.5A2.5 2.5 0 1 0 6.5 9H9zM9 9h6v6H9zM15 9V6.5A2.5 2.5 0 1 1 17.5 9zM15 15h2.5A2.5 2.5 0 1 1 15 17.5zM9 15v2.5A2.5 2.5 0 1 1 6.5 15z",
  "list-checks": "M10 6h10M10 12h10M10 18h10M3.5 6l1.5 1.5L7.5 5M3.5 12l1.5 1.5 2.5-2.5M3.5 18l1.5 1.5 2.5-2.5",
  more: "M6 12h.01M12 12h.01M18 12h.01",
  check: "M5 12.5l4.5 4.5L19 7.5",
  copy: `${box(8.5, 8.5, 12, 12, 2)}M15.5 8.5V5.5a2 2 0 0 0-2-2h-8a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h3`,
  trash: "M4.5 6.5h15M9.5 6.5V4.5h5v2M6.5 6.5l1 13h9l1-13M10.5 10.5v5.5M13.5 10.5v5.5",
  "arrow-up-right": "M8 16L16 8M9.5 8H16v6.5",
  pin: "M12 17v4.5M8 3.5h8M9.5 3.5v5.5L6.5 13v1.5h11V13l-3-4V3.5",
  chart: "M4 20h16M7 16.5v-5M12 16.5V6.5M17 16.5V10",
  download: "M12 4v11M7.5 10.5L12 15l4.5-4.5M5 19.5h14",
};

export function iconSvg(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.75");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name] || ICONS.info);
  svg.append(path);
  return svg;
}

/** The FlowPilot mark: an accent tile with a white flight path. */
export function logoSvg() {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const tile = document.createElementNS(SVG_NS, "rect");
  for (const [k, v] of Object.entries({ width: 24, height: 24, rx: 6, fill: "var(--fp-color-accent)" })) tile.setAttribute(k, v);
  const path = document.createElementNS(SVG_NS, "path");
  for (const [k, v] of Object.entries({
    d: "M5.5 16.5c3-0.5 5-2.5 6.5-5.5s3.5-4.5 6.5-5M14.5 5.5l4 .5-.5 4",
    fill: "none",
    stroke: "var(--fp-color-on-accent)",
    "stroke-width": 2,
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
  }))
    path.setAttribute(k, v);
  const dot = document.createElementNS(SVG_NS, "circle");
  for (const [k, v] of Object.entries({ cx: 6, cy: 16.5, r: 1.6, fill: "var(--fp-color-on-accent)" })) dot.setAttribute(k, v);
  svg.append(tile, path, dot);
  return svg;
}

export class FpIcon extends FpElement {
  static observedAttributes = ["name"];

  static tag = "fp-icon";

  connectedCallback() {
    this.#render();
  }
  attributeChangedCallback() {
    if (this.isConnected) this.#render();
  }

  get name() {
    return this.getAttribute("name") || "";
  }
  set name(value) {
    this.setAttribute("name", value);
  }

  #render() {
    if (!this.hasAttribute("aria-label")) this.setAttribute("aria-hidden", "true");
    this.replaceChildren(this.name === "logo" ? logoSvg() : iconSvg(this.name));
  }
}

/** Convenience: a new <fp-icon> element. */
export function icon(name, size) {
  const el = document.createElement("fp-icon");
  el.setAttribute("name", name);
  if (size) el.setAttribute("size", size);
  return el;
}
