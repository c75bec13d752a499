// Server-sent events over fetch(): EventSource can only GET, and a chat turn is a POST.
// SseParser implements the WHATWG event-stream format (lines end in CRLF, LF or CR; a blank
// line dispatches; `data:` lines join with "\n"; `:` lines are comments), including a CR at
// the very end of one chunk whose LF arrives in the next. liveText() is what a reply shows
// while it streams: the model's raw text with marker syntax turned into what it will become.

export class SseParser {
  #buffer = "";
  #type = "";
  #data = [];
  #pendingCR = false;

  /** @param {(event: {type: string, data: string}) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
  }

  /** Feed decoded text; complete events are dispatched synchronously, in order. */
  push(text) {
    let chunk = text;
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (chunk.startsWith("\n")) chunk = chunk.slice(1); // the LF of a CRLF split across chunks
    }
    this.#buffer += chunk;
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i += 1) {
      const c = this.#buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      this.#line(this.#buffer.slice(start, i));
      if (c === "\r") {
        if (i + 1 === this.#buffer.length) this.#pendingCR = true;
        else if (this.#buffer[i + 1] === "\n") i += 1;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
  }

  /** The stream ended: an unterminated last event is dropped, as the format says. */
  end() {
    this.#buffer = "";
    this.#data = [];
    this.#type = "";
  }

  #line(line) {
    if (line === "") {
      if (this.#data.length) this.onEvent({ type: this.#type || "message", data: this.#data.join("\n") });
      this.#data = [];
      this.#type = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#type = value;
    else if (field === "data") this.#data.push(value);
  }
}

// ---- Live text ----------------------------------------------------------------------------
// Known marker tags and what the final display shows for them (docs/markers.md, "Built-in
// markers"). While a reply streams, a QUESTION or ACTION shows its body, a CHECK shows
// "Check: <title>" and hides its command (which lives in the task lane), PROMOTE shows
// "Noted: <fact>", SUGGEST_FIX shows "Suggested fix: <title>". A half-written tag at the end
// of the text is hidden until it is complete. Unknown tags ([INFO] in a pasted log) stay text.
const SHOW_BODY = { QUESTION: "", ACTION: "", PROMOTE: "Noted: " };
const LABEL = { CHECK: ["Check: ", "title"], SUGGEST_FIX: ["Suggested fix: ", "title"] };
const KNOWN = [...Object.keys(SHOW_BODY), ...Object.keys(LABEL)];
const TOKEN = /\[(\/?)([A-Z][A-Z0-9_]*)((?:[ \t]+[a-z][a-z0-9_]*="(?:[^"\\\r\n]|\\[^\r\n])*")*)[ \t]*\]/g;
const ATTR = /([a-z][a-z0-9_]*)="((?:[^"\\\r\n]|\\[^\r\n])*)"/g;
const PARTIAL = /\[\/?([A-Z][A-Z0-9_]*)?(?:[ \t][^\]\r\n]*)?$/;

const unescapeValue = (value) => value.replace(/\\(.)/g, (m, c) => (c === '"' || c === "\\" ? c : m));

/** The raw streamed text as the technician should see it so far (plain text, never HTML). */
export function liveText(raw) {
  const text = String(raw ?? "");
  let out = "";
  let last = 0;
  let hiding = null; // the tag whose body is hidden (CHECK, SUGGEST_FIX) until its close tag
  for (const m of text.matchAll(TOKEN)) {
    const [token, slash, tag, attrs] = m;
    if (!KNOWN.includes(tag)) continue;
    if (!hiding) out += text.slice(last, m.index);
    last = m.index + token.length;
    if (slash) {
      if (hiding === tag) hiding = null;
      continue;
    }
    if (hiding) continue;
    if (tag in LABEL) {
      const [prefix, name] = LABEL[tag];
      const values = Object.fromEntries([...attrs.matchAll(ATTR)].map((a) => [a[1], unescapeValue(a[2])]));
      out += prefix + (values[name] || "");
      hiding = tag;
    } else {
      out += SHOW_BODY[tag];
    }
  }
  if (!hiding) {
    let tail = text.slice(last);
    const partial = tail.match(PARTIAL);
    if (partial && (!partial[1] || KNOWN.some((tag) => tag.startsWith(partial[1]) || partial[1].startsWith(tag)))) {
      tail = tail.slice(0, partial.index);
    }
    out += tail;
  }
  return out;
}
