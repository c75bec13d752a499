// The example portal's own script: mount FlowPilot on the ticket page, relay its events to a log.
// It runs before or after embed.js (both are async/defer): the FlowPilotReady queue handles either order.
(function () {
  "use strict";

  // The portal backend mints a short-lived token for the signed-in user (see host_portal.py).
  function getToken() {
    return fetch("/api/flowpilot-token", { method: "POST", headers: { Accept: "application/json" } })
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
      });
    });
    document.getElementById("fp-theme").addEventListener("change", function (event) {
      handle.setTheme(event.target.value);
    });
    window.portalFlowPilot = handle;
  });
})();
