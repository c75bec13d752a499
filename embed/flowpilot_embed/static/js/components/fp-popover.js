// <fp-popover for="trigger-id"> — a native [popover] panel anchored under its trigger button.
// The trigger gets aria-expanded/aria-controls; Escape and outside clicks close it (native light dismiss).
import { FpElement } from "./fp-element.js";

export class FpPopover extends FpElement {
  static tag = "fp-popover";

  connectedCallback() {
    if (!this.id) this.id = `fp-popover-${Math.random().toString(36).slice(2, 8)}`;
    this.setAttribute("popover", "auto");
    this.classList.add("fp-popover");
    this.addEventListener("toggle", this.#onToggle);
    this.trigger?.setAttribute("aria-controls", this.id);
    this.trigger?.setAttribute("aria-expanded", "false");
    this.trigger?.addEventListener("click", this.#onTriggerClick);
  }

  disconnectedCallback() {
    this.removeEventListener("toggle", this.#onToggle);
    this.trigger?.removeEventListener("click", this.#onTriggerClick);
  }

  get trigger() {
    return document.getElementById(this.getAttribute("for"));
  }

  #onTriggerClick = () => this.togglePopover();

  #onToggle = (event) => {
    const open = event.newState === "open";
    this.trigger?.setAttribute("aria-expanded", String(open));
    if (open) {
      this.position();
      addEventListener("scroll", this.#reposition, { capture: true, passive: true });
      addEventListener("resize", this.#reposition);
    } else {
      removeEventListener("scroll", this.#reposition, { capture: true });
      removeEventListener("resize", this.#reposition);
    }
  };

  #reposition = () => this.position();

  /** Place under the trigger, right-aligned when it would overflow the viewport. */
  position() {
    const anchor = this.trigger?.getBoundingClientRect();
    if (!anchor) return;
    const width = this.offsetWidth;
    const left = Math.max(8, Math.min(anchor.left, innerWidth - width - 8));
    const below = anchor.bottom + 6;
    const top = below + this.offsetHeight > innerHeight - 8 ? Math.max(8, anchor.top - this.offsetHeight - 6) : below;
    this.style.left = `${left}px`;
    this.style.top = `${top}px`;
  }
}
