/*! FlowPilot embed loader. Usage and trust model: docs/design-system.md ("Embedding"). */
(function (w, d) {
  "use strict";
  if (w.FlowPilot && w.FlowPilot.version) return; // loaded twice: keep the first

  var PROTOCOL = "flowpilot";
  var HOST_EVENTS = ["ready", "session-created", "resolved", "escalated", "resize", "error"];
  var script = d.currentScript || d.querySelector('script[src*="/embed.js"]');
  var ORIGIN = new URL(script ? script.src : "/", location.href).origin;

  function fail(message) {
    throw new Error("[FlowPilot] " + message);
  }

  function claimsOf(token) {
    try {
      var part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    } catch (_notAJwt) {
      return {};
    }
  }

  function important(el, styles) {
    for (var key in styles) el.style.setProperty(key, styles[key], "important");
  }

  function mount(target, options) {
    var opts = options || {};
    var el = typeof target === "string" ? d.querySelector(target) : target;
    if (!el || !el.appendChild) fail("mount target not found: " + target);
    if (typeof opts.token !== "string" && typeof opts.getToken !== "function") fail("mount needs {token} or {getToken}");

    var sidebar = opts.displayMode === "sidebar";
    var listeners = {};
    var token = opts.token || null;
    var theme = opts.theme || "";
    var refreshing = null;
    var timer = 0;
    var gone = false;
    var isOpen = !sidebar || opts.open === true;
    var iframe = d.createElement("iframe");

    iframe.title = opts.title || "FlowPilot";
    iframe.setAttribute("allow", "clipboard-read; clipboard-write");
    important(iframe, { display: "block", border: "0", margin: "0", padding: "0", "color-scheme": "normal", background: "transparent" });
    if (sidebar) {
      important(iframe, {
        position: "fixed",
        top: "0",
        right: "0",
        bottom: "0",
        height: "100%",
        width: opts.width || "min(440px, 100vw)",
        "max-width": "100vw",
        "z-index": "2147483000",
        "box-shadow": "0 0 32px rgba(16,24,40,.18)",
        transition: "transform .2s cubic-bezier(.2,0,0,1), visibility .2s",
      });
    } else {
      important(iframe, { width: "100%", height: "100%", "min-height": opts.minHeight || "480px" });
    }

    function emit(type, detail) {
      (listeners[type] || []).slice().forEach(function (cb) {
        try {
          cb(detail);
        } catch (e) {
          setTimeout(function () {
            throw e;
          });
        }
      });
    }

    function post(message) {
      if (!gone && iframe.contentWindow) {
        message.protocol = PROTOCOL;
        iframe.contentWindow.postMessage(message, ORIGIN); // never "*": only the FlowPilot origin may read it
      }
    }

    function expiresSoon(t, slackMs) {
      var exp = claimsOf(t).exp;
      return typeof exp === "number" && exp * 1000 - Date.now() < slackMs;
    }

    // A fresh token from the host's getToken(); concurrent callers share one request.
    function refresh() {
      if (typeof opts.getToken !== "function") {
        emit("error", { code: "token_expired", detail: "The embed token expired and mount() was given no getToken()." });
        return Promise.resolve(null);
      }
      if (!refreshing) {
        refreshing = Promise.resolve()
          .then(function () {
            return opts.getToken();
          })
          .then(function (fresh) {
            if (typeof fresh !== "string" || !fresh) fail("getToken() must resolve to a token string");
            token = fresh;
            schedule();
            return fresh;
          })
          .catch(function (e) {
            emit("error", { code: "token_failed", detail: String((e && e.message) || e) });
            return null;
          })
          .then(function (t) {
            refreshing = null;
            return t;
          });
      }
      return refreshing;
    }

    function validToken() {
      return token && !expiresSoon(token, 5000) ? Promise.resolve(token) : refresh();
    }

    // Renew a minute before `exp` (or at 80% of a shorter life) so the surface never sees a 401.
    function schedule() {
      clearTimeout(timer);
      var c = claimsOf(token);
      if (typeof opts.getToken !== "function" || typeof c.exp !== "number") return;
      var life = c.exp * 1000 - Date.now();
      var lead = Math.min(60000, life * 0.2);
      timer = setTimeout(
        function () {
          refresh().then(function (t) {
            if (t) post({ type: "token", token: t });
          });
        },
        Math.max(1000, Math.min(life - lead, 2147483000)),
      );
    }

    function sendToken() {
      return validToken().then(function (t) {
        if (!t) return;
        post({ type: "token", token: t });
        if (theme) post({ type: "theme", theme: theme });
        if (opts.ticket) post({ type: "context", ticket: opts.ticket });
      });
    }

    function onMessage(event) {
      if (event.origin !== ORIGIN || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || data.protocol !== PROTOCOL || typeof data.type !== "string") return;
      if (data.type === "hello") sendToken();
      else if (data.type === "token-request")
        refresh().then(function (t) {
          if (t) post({ type: "token", token: t });
        });
      else if (data.type === "close-request") handle.close();
      else if (HOST_EVENTS.indexOf(data.type) !== -1) {
        var detail = {};
        for (var key in data) if (key !== "protocol" && key !== "type") detail[key] = data[key];
        emit(data.type, detail);
      }
    }

    function applyOpen() {
      if (sidebar) important(iframe, { transform: isOpen ? "none" : "translateX(100%)", visibility: isOpen ? "visible" : "hidden" });
      else important(iframe, { display: isOpen ? "block" : "none" });
    }

    var handle = {
      iframe: iframe,
      open: function () {
        isOpen = true;
        applyOpen();
        emit("open", {});
        return handle;
      },
      close: function () {
        isOpen = false;
        applyOpen();
        emit("close", {});
        return handle;
      },
      toggle: function () {
        return isOpen ? handle.close() : handle.open();
      },
      get isOpen() {
        return isOpen;
      },
      on: function (type, cb) {
        listeners[type] = listeners[type] || [];
        listeners[type].push(cb);
        return function () {
          listeners[type] = (listeners[type] || []).filter(function (x) {
            return x !== cb;
          });
        };
      },
      setTheme: function (value) {
        theme = value === "light" || value === "dark" ? value : "auto";
        post({ type: "theme", theme: theme });
        return handle;
      },
      unmount: function () {
        gone = true;
        clearTimeout(timer);
        w.removeEventListener("message", onMessage);
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
        listeners = {};
      },
    };

    w.addEventListener("message", onMessage);
    applyOpen();
    el.appendChild(iframe);
    // The account comes from the token (unverified here; the server verifies), so the server can
    // answer with that account's frame-ancestors. The token itself never goes into the URL.
    // Started after mount() returns, so the host's on() calls made right after mount() see every event.
    Promise.resolve()
      .then(validToken)
      .then(function (t) {
        if (gone || !t) return;
        var query = "?account=" + encodeURIComponent(claimsOf(t).aid || "") + "&embed=1";
        if (sidebar) query += "&display=sidebar";
        if (theme) query += "&theme=" + encodeURIComponent(theme);
        iframe.src = ORIGIN + "/pilot" + query;
        schedule();
      });
    return handle;
  }

  var FlowPilot = {
    version: "1",
    origin: ORIGIN,
    mount: mount,
    ready: function (cb) {
      cb(FlowPilot);
    },
  };
  var queued = w.FlowPilotReady;
  w.FlowPilot = FlowPilot;
  // Hosts can queue work before this async script loads:
  //   (window.FlowPilotReady = window.FlowPilotReady || []).push(function (FlowPilot) { ... });
  w.FlowPilotReady = {
    push: function (cb) {
      cb(FlowPilot);
    },
  };
  [].concat(queued || []).forEach(function (cb) {
    if (typeof cb === "function") cb(FlowPilot);
  });

  // Zero-JS embed: <script src=".../embed.js" data-mount="#el" data-token-url="/my/flowpilot-token" async>
  var ds = (script && script.dataset) || {};
  if (ds.mount && ds.tokenUrl) {
    var auto = function () {
      FlowPilot.mount(ds.mount, {
        theme: ds.theme,
        displayMode: ds.displayMode,
        getToken: function () {
          return fetch(ds.tokenUrl, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (r) {
              if (!r.ok) fail("token endpoint answered " + r.status);
              return r.json();
            })
            .then(function (j) {
              return j.token;
            });
        },
      });
    };
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", auto);
    else auto();
  }
})(window, document);
