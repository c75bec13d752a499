// The base of every FlowPilot custom element: one `define()` instead of a copy per class.
// A subclass names its tag in `static tag`; define() registers it once, so loading a module
// twice (the gallery and /pilot share them) or defining a lane twice never throws.

export class FpElement extends HTMLElement {
  /** The element's tag name, e.g. "fp-chat". */
  static tag = "";

  /** Register this class as `tag` in `registry` unless that name is taken already; returns the class. */
  // biome-ignore-start lint/complexity/noThisInStatic: `this` is the subclass define() is called on, not FpElement
  static define(tag = this.tag, registry = customElements) {
    if (!tag) throw new TypeError(`[FlowPilot] ${this.name} has no static tag to define`);
    if (!registry.get(tag)) registry.define(tag, this);
    return this;
  }
  // biome-ignore-end lint/complexity/noThisInStatic: end of define()
}
