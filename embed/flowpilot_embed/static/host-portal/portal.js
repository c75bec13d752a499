// The example portal's own script: mount FlowPilot on the ticket page, relay its events to a log.
// It runs before or after embed.js (both are async/defer): the FlowPilotReady queue handles either order.
(function () {
  "use strict";

  // The portal backend mints a short-lived token for the signed-in user (see host_portal.py), for the ticket on
  // this page when the portal is a PSA's pages (flowpilot demo: the ConnectWise fake).
  function getToken() {
    var pod = document.getElementById("flowpilot");
    var body = pod && pod.dataset.ticketProvider ? JSON.stringify({ ticket: pod.dataset.ticketRef }) : "{}";
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    return fetch("/api/flowpilot-token", { method: "POST", headers: headers, body: body })
      .then(function (response) {
        if (!response.ok) throw new Error("token endpoint answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        return body.token;
      });
  }

  var events = [];
  window.portalEvents = events;

  function log(type, detail) {
    events.push({ type: type, detail: detail });
    var list = document.getElementById("fp-events");
    if (!list) return;
    var last = list.lastElementChild;
    if (type === "resize" && last && last.dataset.type === "resize") last.remove();
    var item = document.createElement("li");
    item.dataset.type = type;
    var name = document.createElement("code");
    name.textContent = type;
    item.append(name, " ", JSON.stringify(detail));
    list.append(item);
  }

  // The ticket as the PSA has it now: FlowPilot posted a note and changed the status, the page shows both.
  function renderNotes(notes) {
    var list = document.getElementById("psa-notes");
    if (!list) return;
    var items = notes.map(function (note) {
      var item = document.createElement("li");
      item.dataset.noteId = String(note.id);
      var by = document.createElement("strong");
      by.textContent = note.by || "Note";
      var where = document.createElement("span");
      where.textContent = (note.sections || []).concat(note.created ? [note.created] : []).join(" · ");
      var text = document.createElement("p");
      text.textContent = note.text;
      item.append(by, " ", where, text);
      return item;
    });
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "psa-notes__empty";
      empty.textContent = "No notes yet.";
      items.push(empty);
    }
    list.replaceChildren.apply(list, items);
  }

  function rereadTicket() {
    var pod = document.getElementById("flowpilot");
    if (!pod || !pod.dataset.ticketProvider) return Promise.resolve();
    return fetch("/api/tickets/" + encodeURIComponent(pod.dataset.ticketRef), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the ticket endpoint answered " + response.status);
        return response.json();
      })
      .then(function (ticket) {
        document.getElementById("psa-status").textContent = ticket.status;
        var queued = document.querySelector(".psa-queue a[aria-current=page] .psa-queue__status");
        if (queued) queued.textContent = ticket.status;
        renderNotes(ticket.notes);
        log("ticket-reread", { status: ticket.status, notes: ticket.notes.length });
      })
      .catch(function (error) {
        log("error", { message: String(error.message || error) });
      });
  }
  window.portalRereadTicket = rereadTicket;

  window.FlowPilotReady = window.FlowPilotReady || [];
  window.FlowPilotReady.push(function (FlowPilot) {
    var pod = document.getElementById("flowpilot");
    var handle = FlowPilot.mount(pod, {
      getToken: getToken,
      displayMode: "inline",
      ticket: { ref: pod.dataset.ticketRef, summary: pod.dataset.ticketSummary },
    });
    ["ready", "session-created", "resolved", "escalated", "resize", "error"].forEach(function (type) {
      handle.on(type, function (detail) {
        log(type, detail);
        if (type === "resolved" || type === "escalated") rereadTicket();
      });
    });
    document.getElementById("fp-theme").addEventListener("change", function (event) {
      handle.setTheme(event.target.value);
    });
    window.portalFlowPilot = handle;
  });
})();
