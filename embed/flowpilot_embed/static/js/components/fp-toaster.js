// <fp-toaster> — the toast region (one per page, role="status"). Use toast() from anywhere.
import { FpElement } from "./fp-element.js";
import { h } from "../dom.js";
import { icon } from "./fp-icon.js";

const TONE_ICON = { info: "info", success: "check-circle", warning: "alert", danger: "alert-circle" };

export class FpToaster extends FpElement {
  static tag = "fp-toaster";

  connectedCallback() {
    this.setAttribute("role", "region");
    this.setAttribute("aria-label", "Notifications");
    if (!this.live) {
      this.live = h("div", { class: "fp-visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
      this.append(this.live);
    }
  }

  /**
   * Show a toast; returns a function that dismisses it. Text is always rendered as text.
   * `actions: [{label, run}]` adds buttons (a toast with actions stays 10 s); running one dismisses it.
   */
  show({ title = "", message = "", tone = "info", actions = [], timeout } = {}) {
    timeout ??= actions.length ? 10000 : tone === "danger" ? 8000 : 5000;
    const close = h("button", { class: "fp-icon-btn fp-icon-btn--sm", type: "button", "aria-label": "Dismiss" }, icon("x", "sm"));
    const buttons = actions.map((action) =>
      h("button", {
        type: "button",
        class: "fp-btn fp-btn--sm",
        text: action.label,
        onclick: () => {
          dismiss();
          action.run?.();
        },
      }),
    );
    const el = h(
      "div",
      { class: `fp-toast fp-toast--${tone}`, role: tone === "danger" ? "alert" : "status" },
      icon(TONE_ICON[tone] || "info"),
      h(
        "div",
        { class: "fp-toast__body" },
        title && h("div", { class: "fp-toast__title", text: title }),
        message && h("div", { class: "fp-toast__message", text: message }),
        buttons.length > 0 && h("div", { class: "fp-toast__actions" }, buttons),
      ),
      close,
    );
    const dismiss = () => {
      clearTimeout(timer);
      el.remove();
    };
    close.addEventListener("click", dismiss);
    let timer = timeout ? setTimeout(dismiss, timeout) : 0;
    el.addEventListener("mouseenter", () => clearTimeout(timer));
    el.addEventListener("mouseleave", () => {
      if (timeout) timer = setTimeout(dismiss, timeout);
    });
    this.append(el);
    while (this.querySelectorAll(".fp-toast").length > 4) this.querySelector(".fp-toast").remove();
    return dismiss;
  }
}

/** toast({title, message, tone: "info"|"success"|"warning"|"danger", actions: [{label, run}], timeout}) */
export function toast(options) {
  let toaster = document.querySelector("fp-toaster");
  if (!toaster) {
    toaster = document.createElement("fp-toaster");
    document.body.append(toaster);
  }
  return toaster.show(typeof options === "string" ? { message: options } : options);
}
