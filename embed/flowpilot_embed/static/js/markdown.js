// A small markdown renderer that builds DOM nodes directly, for model and user text.
// It never parses HTML: "<img onerror=…>" in the input stays the literal text it is. Supported:
// paragraphs, line breaks, # headings, - / 1. lists, > quotes, ``` fences, `code`, **bold**,
// *italic*, and [links](https://…) whose scheme is http, https or mailto (others stay text).

const SAFE_URL = /^(https?:|mailto:)/i;
const INLINE =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*([^*\n]+?)\*\*|(?<![A-Za-z0-9_])__([^_\n]+?)__(?![A-Za-z0-9_])|\*([^*\s][^*\n]*?)\*|(?<![A-Za-z0-9_])_([^_\s][^_\n]*?)_(?![A-Za-z0-9_])|\[([^\]\n]+)\]\(([^)\s]+)\)/g;

/** Render markdown text into a DocumentFragment. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "")
    .replace(/\r\n?/g, "\n")
    .split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }

    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)\s*$/);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1; // closing fence (or end of text)
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      if (fence[2]) code.dataset.lang = fence[2];
      code.textContent = body.join("\n");
      pre.append(code);
      fragment.append(pre);
      continue;
    }

    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) {
      // Headings inside messages are kept modest: # → h3 … #### → h6.
      const el = document.createElement(`h${Math.min(heading[1].length + 2, 6)}`);
      appendInline(el, heading[2].replace(/\s+#+\s*$/, ""));
      fragment.append(el);
      i += 1;
      continue;
    }

    const listMatch = line.match(/^\s*([-*+]|\d{1,3}[.)])\s+/);
    if (listMatch) {
      const ordered = /\d/.test(listMatch[1]);
      const list = document.createElement(ordered ? "ol" : "ul");
      const start = ordered ? parseInt(listMatch[1], 10) : 1;
      if (ordered && start !== 1) list.start = start;
      const itemPattern = ordered ? /^\s*\d{1,3}[.)]\s+(.*)$/ : /^\s*[-*+]\s+(.*)$/;
      let item = null;
      while (i < lines.length && lines[i].trim()) {
        const m = lines[i].match(itemPattern);
        if (m) {
          item = document.createElement("li");
          appendInline(item, m[1]);
          list.append(item);
        } else if (item && /^\s+\S/.test(lines[i])) {
          item.append(document.createElement("br"));
          appendInline(item, lines[i].trim());
        } else {
          break;
        }
        i += 1;
      }
      fragment.append(list);
      continue;
    }

    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      const quote = document.createElement("blockquote");
      quote.append(renderMarkdown(quoted.join("\n")));
      fragment.append(quote);
      continue;
    }

    const para = document.createElement("p");
    let first = true;
    while (i < lines.length && lines[i].trim() && !isBlockStart(lines[i])) {
      if (!first) para.append(document.createElement("br"));
      appendInline(para, lines[i].trim());
      first = false;
      i += 1;
    }
    fragment.append(para);
  }
  return fragment;
}

function isBlockStart(line) {
  return /^\s*(```|~~~)/.test(line) || /^#{1,4}\s/.test(line) || /^\s*([-*+]|\d{1,3}[.)])\s+/.test(line) || /^\s*>/.test(line);
}

/** Append inline-formatted text to `parent`; unmatched syntax stays literal text. */
function appendInline(parent, text) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    let el;
    if (m[2] !== undefined) {
      el = document.createElement("code");
      el.textContent = m[2].trim() || m[2];
    } else if (m[3] !== undefined || m[4] !== undefined) {
      el = document.createElement("strong");
      appendInline(el, m[3] ?? m[4]);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      el = document.createElement("em");
      appendInline(el, m[5] ?? m[6]);
    } else if (SAFE_URL.test(m[8])) {
      el = document.createElement("a");
      el.href = m[8];
      el.target = "_blank";
      el.rel = "noopener noreferrer nofollow";
      appendInline(el, m[7]);
    } else {
      el = document.createTextNode(m[0]);
    }
    parent.append(el);
  }
  if (last < text.length) parent.append(text.slice(last));
}
