// The topbar's script-library button: its badge counts the account's pending draft templates and its
// popover lists them (GET /api/v1/draft-templates?status=pending), with a way into the Script Library.
// pilot.js calls refreshDrafts() at start and whenever a view says the scripts changed.
import { api } from "../api.js";
import { h, relativeTime, replace } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { emptyState } from "../components/ui.js";
import { languageLabel } from "./parameterization-preview.js";
import { scriptsHref } from "./script-library.js";

const MAX_LISTED = 5;

/** Read the pending drafts and show them; `open(id)` navigates ("scripts" or a session id). */
export async function refreshDrafts({ badge, body, trigger, popover, open }) {
  let data;
  try {
    data = await api("/api/v1/draft-templates?status=pending");
  } catch (error) {
    if (error.status === 401) return;
    replace(
      body,
      h("p", { class: "fp-form-error", role: "alert", text: `Couldn't load the draft templates: ${error.message}` }),
      libraryLink(popover, open),
    );
    return;
  }
  const count = data.pending;
  badge.hidden = !count;
  badge.textContent = String(count);
  trigger.setAttribute(
    "aria-label",
    count ? `Script library: ${count} pending draft template${count === 1 ? "" : "s"}` : "Script library: no pending draft templates",
  );
  const listed = data.items.slice(0, MAX_LISTED);
  replace(
    body,
    count
      ? h(
          "div",
          { class: "fp-drafts" },
          h("p", { class: "fp-help", text: `${count} draft template${count === 1 ? "" : "s"} waiting for review.` }),
          h(
            "ul",
            { class: "fp-drafts__list", role: "list" },
            listed.map((draft) =>
              h(
                "li",
                { "data-draft-id": draft.id },
                h(
                  "a",
                  {
                    class: "fp-drafts__item",
                    href: scriptsHref(),
                    onclick: (event) => go(event, popover, open, "scripts"),
                  },
                  icon("script", "sm"),
                  h("span", { class: "fp-drafts__name", text: draft.name }),
                  h("span", { class: "fp-help", text: `${languageLabel(draft.language)} · ${relativeTime(draft.created_at)}` }),
                ),
              ),
            ),
          ),
          count > listed.length && h("p", { class: "fp-help", text: `and ${count - listed.length} more` }),
        )
      : emptyState({
          variant: "compact",
          icon: "script",
          title: "No pending draft templates",
          body: "Scripts you choose to templatize after a resolve wait here for review.",
        }),
    libraryLink(popover, open),
  );
}

function libraryLink(popover, open) {
  return h(
    "a",
    {
      class: "fp-btn fp-btn--sm fp-btn--block fp-drafts__library",
      href: scriptsHref(),
      "data-action": "open-library",
      onclick: (event) => go(event, popover, open, "scripts"),
    },
    icon("script", "sm"),
    "Open the script library",
  );
}

function go(event, popover, open, id) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  popover.hidePopover?.();
  open(id);
}
