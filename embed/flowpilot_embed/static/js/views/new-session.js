// The New session dialog: problem statement (required), optional title and ticket summary.
// Opened on a ticket (signed token claim or host context) it links the session to that ticket.
import { api } from "../api.js";
import { h, kbd } from "../dom.js";
import { icon } from "../components/fp-icon.js";
import { runDialog, ticketLabel } from "../components/ui.js";
import { toast } from "../components/fp-toaster.js";

/** Ask for a new session; resolves with the created Session, or null if cancelled. */
export async function newSessionDialog({ ticket = null, problem = "" } = {}) {
  const problemInput = h("textarea", {
    class: "fp-textarea",
    id: "fp-new-problem",
    name: "problem_statement",
    rows: "5",
    required: true,
    placeholder: "e.g. Outlook keeps prompting for a password on two laptops since this morning; webmail works.",
    "aria-describedby": "fp-new-problem-help",
  });
  problemInput.value = problem;
  const titleInput = h("input", {
    class: "fp-input",
    id: "fp-new-title",
    name: "title",
    type: "text",
    maxlength: "200",
    placeholder: "Short name for the session list (FlowPilot suggests one if empty)",
  });
  const summaryInput = h("input", {
    class: "fp-input",
    id: "fp-new-summary",
    name: "ticket_summary",
    type: "text",
    maxlength: "500",
    placeholder: "The ticket's subject line",
  });
  if (ticket?.summary) summaryInput.value = ticket.summary;
  const error = h("p", { class: "fp-form-error", role: "alert", hidden: true });
  const unlinked = h("div", { class: "fp-unlinked-offer", hidden: true });
  const submit = h("button", { class: "fp-btn fp-btn--primary", type: "submit", value: "create" }, "Start session");
  const cancel = h("button", { class: "fp-btn", type: "button", text: "Cancel" });

  const linked = ticket?.ref
    ? h(
        "div",
        { class: "fp-linked-ticket" },
        icon("ticket", "sm"),
        h("span", {}, "Linked to ", h("strong", { text: ticketLabel(ticket.provider, ticket.ref) })),
      )
    : null;

  const form = h(
    "form",
    { method: "dialog", novalidate: true },
    h(
      "header",
      { class: "fp-dialog__header" },
      h(
        "div",
        { class: "fp-dialog__heading" },
        h("h2", { id: "fp-new-title-h", class: "fp-dialog__title", text: "New FlowPilot session" }),
        h("p", {
          class: "fp-dialog__subtitle",
          text: "Describe the problem as the user reported it. FlowPilot starts with questions and checks.",
        }),
      ),
      h("button", { class: "fp-icon-btn", type: "button", "aria-label": "Close", onclick: () => dialog.close("cancel") }, icon("x")),
    ),
    h(
      "div",
      { class: "fp-dialog__body" },
      linked,
      h(
        "div",
        { class: "fp-field" },
        h("label", { class: "fp-label", for: "fp-new-problem", text: "Problem statement" }),
        problemInput,
        h("p", { class: "fp-help", id: "fp-new-problem-help", text: "Symptoms, who is affected, since when, and what changed." }),
      ),
      h(
        "div",
        { class: "fp-field" },
        h("label", { class: "fp-label", for: "fp-new-title" }, "Title ", h("span", { class: "fp-label__optional", text: "(optional)" })),
        titleInput,
      ),
      h(
        "div",
        { class: "fp-field" },
        h(
          "label",
          { class: "fp-label", for: "fp-new-summary" },
          "Ticket summary ",
          h("span", { class: "fp-label__optional", text: "(optional)" }),
        ),
        summaryInput,
      ),
      error,
      unlinked,
    ),
    h(
      "footer",
      { class: "fp-dialog__footer" },
      h("span", { class: "fp-dialog__footer-hint" }, kbd("mod", "↵"), " to start"),
      cancel,
      submit,
    ),
  );
  const dialog = h("dialog", { class: "fp-dialog", "aria-labelledby": "fp-new-title-h", "data-dialog": "new-session" }, form);
  cancel.addEventListener("click", () => dialog.close("cancel"));

  // A PSA that cannot read the ticket (down, refusing FlowPilot's credentials): the technician may start anyway,
  // without the ticket (the session then resolves in FlowPilot; nothing is posted to the PSA).
  const offerUnlinked = (problem) => {
    error.textContent = `${problem.psa_detail || problem.detail}.`;
    error.hidden = false;
    const start = h(
      "button",
      { class: "fp-btn fp-btn--sm", type: "button", "data-action": "start-unlinked", onclick: () => create({ unlinked: true }) },
      "Start without the ticket",
    );
    unlinked.replaceChildren(
      h("p", {
        class: "fp-help",
        text: "You can start now without it: the session resolves in FlowPilot and nothing is posted to the PSA. Or try again in a moment.",
      }),
      start,
    );
    unlinked.hidden = false;
    start.focus();
  };

  let created = null;
  const create = async ({ unlinked: withoutTicket = false } = {}) => {
    const problemStatement = problemInput.value.trim();
    if (!problemStatement) {
      problemInput.setAttribute("aria-invalid", "true");
      error.textContent = "Describe the problem to start a session.";
      error.hidden = false;
      problemInput.focus();
      return;
    }
    problemInput.removeAttribute("aria-invalid");
    error.hidden = true;
    const body = { problem_statement: problemStatement, session_type: "chat" };
    if (titleInput.value.trim()) body.title = titleInput.value.trim();
    const ticketBody = {};
    for (const key of ["description", "company", "contact", "board", "status"]) if (ticket?.[key]) ticketBody[key] = String(ticket[key]);
    if (summaryInput.value.trim()) ticketBody.summary = summaryInput.value.trim();
    if (Object.keys(ticketBody).length) body.ticket = ticketBody;
    if (ticket?.ref) {
      body.ticket_ref = String(ticket.ref);
      if (ticket.provider) body.psa_provider = String(ticket.provider);
    }
    if (withoutTicket) body.unlinked = true;
    unlinked.hidden = true;
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    submit.replaceChildren(h("span", { class: "fp-spinner", "aria-hidden": "true" }), "Starting…");
    try {
      created = await api("/api/v1/ai-sessions", { method: "POST", body });
      dialog.close("created");
    } catch (err) {
      if (err.problem?.can_open_unlinked && !withoutTicket) {
        offerUnlinked(err.problem);
        return;
      }
      error.textContent = err.message;
      error.hidden = false;
      toast({ tone: "danger", title: "Couldn't start the session", message: err.message });
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      submit.replaceChildren("Start session");
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) {
      event.preventDefault();
      create();
    }
  });
  dialog.addEventListener("close", () => setTimeout(() => dialog.remove(), 0));
  const opened = runDialog(dialog);
  problemInput.focus();
  await opened;
  return created;
}
