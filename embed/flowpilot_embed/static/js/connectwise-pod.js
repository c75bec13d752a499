// FlowPilot as a ConnectWise PSA (Manage) pod: the Hosted API handshake, then the embedded surface.
//
// ConnectWise frames this page in a ticket screen. The handshake, from ConnectWise's Hosted API:
//   1. the pod posts {"message":"ready"} to its parent;
//   2. ConnectWise answers {"MessageFrameID": "..."}; every later request names that frameID;
//   3. {"request":"getMemberAuthentication"} → the signed-in member (companyid, memberid, memberHash, ...);
//   4. {"request":"getScreenObject"} → the record on screen ({id, screen: "ticket", hostedAs: "pod"}).
// Messages travel as JSON strings, as ConnectWise sends them.
//
// Trust: only messages from window.parent whose origin is one of the account's allowed embedding origins
// (the page's data-parent-origins, the same list the CSP frame-ancestors holds) are read, and after the
// frame id arrives only that origin's. The member payload is a claim: FlowPilot's server asks ConnectWise
// to confirm the memberHash before it mints its own short-lived embed token (POST
// /api/v1/embed/connectwise-pod/token), and the surface is mounted with that token and a getToken() that
// repeats the exchange when it expires.

const REPLY_TIMEOUT_MS = 10000;
const allowedOrigins = JSON.parse(document.documentElement.dataset.parentOrigins || "[]");
const accountId = new URLSearchParams(location.search).get("account");
const status = document.getElementById("fp-pod-status");

let parentOrigin = null;
let frameId = null;
let frameReady;
const framed = new Promise((resolve) => {
  frameReady = resolve;
});
const waiting = new Map(); // lower-cased request name → resolve(data)

function post(message) {
  // Before the frame id arrives the parent's origin is not known yet; "ready" carries no data.
  window.parent.postMessage(JSON.stringify({ ...message, frameID: frameId }), parentOrigin || "*");
}

function onMessage(event) {
  if (event.source !== window.parent || !allowedOrigins.includes(event.origin)) return;
  if (parentOrigin && event.origin !== parentOrigin) return;
  let data;
  try {
    data = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
  } catch {
    return;
  }
  if (!data || typeof data !== "object") return;
  if (data.MessageFrameID && !frameId) {
    parentOrigin = event.origin;
    frameId = String(data.MessageFrameID);
    frameReady();
  } else if (frameId && typeof data.response === "string") {
    const resolve = waiting.get(data.response.toLowerCase());
    waiting.delete(data.response.toLowerCase());
    resolve?.(data.data);
  } else if (frameId && typeof data.event === "string") {
    post({ event: data.event, _id: data._id, result: "success" }); // onLoad and beforeSave wait for an answer
  }
}

async function ask(request) {
  await framed;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(request.toLowerCase());
      reject(new Error(`ConnectWise did not answer ${request}.`));
    }, REPLY_TIMEOUT_MS);
    waiting.set(request.toLowerCase(), (data) => {
      clearTimeout(timer);
      resolve(data);
    });
    post({ request });
  });
}

/** A FlowPilot embed token for the member ConnectWise has signed in, on the ticket on screen. */
async function podToken() {
  const member = await ask("getMemberAuthentication");
  const screen = await ask("getScreenObject").catch(() => null);
  if (!member || typeof member !== "object") throw new Error("ConnectWise sent no member authentication.");
  const body = {
    account_id: accountId,
    member: {
      companyid: member.companyid,
      memberid: member.memberid,
      memberHash: member.memberHash,
      ...(member.memberEmail ? { memberEmail: member.memberEmail } : {}),
    },
  };
  if (screen && typeof screen === "object" && screen.id != null) body.screen = { id: screen.id, screen: String(screen.screen || "") };
  const response = await fetch("/api/v1/embed/connectwise-pod/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `FlowPilot answered ${response.status}.`);
  return answer.token;
}

function showError(error) {
  status.dataset.tone = "error";
  status.setAttribute("role", "alert");
  status.textContent = `FlowPilot could not sign you in with ConnectWise: ${error.message}`;
}

async function start() {
  window.addEventListener("message", onMessage);
  if (window.parent === window) return showError(new Error("this page runs inside a ConnectWise pod."));
  if (!accountId) return showError(new Error("the pod URL names no ?account=."));
  post({ message: "ready" });
  try {
    const token = await podToken();
    status.remove();
    window.FlowPilot.mount("#fp-pod", { token, getToken: podToken, title: "FlowPilot" });
  } catch (error) {
    showError(error);
  }
}

start();
