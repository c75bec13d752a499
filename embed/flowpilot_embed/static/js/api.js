// JSON client for /api/v1. Every call sends `Authorization: Bearer <token>`; a 401 triggers one
// token refresh (embedded: the host's getToken()) and one retry, and a GET answered 503 busy is
// asked again after its Retry-After. Errors are RFC 9457 problem details, thrown as ApiError with
// the server's `detail`. apiStream() reads a streamed reply (SSE).
import { currentToken, refreshToken } from "./bridge.js";
import { SseParser } from "./sse.js";

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  get detail() {
    return this.message;
  }
  get notFound() {
    return this.status === 404;
  }
}

/** A GET the server refused as retryable with a short Retry-After (503 database-busy: every database
 * connection was in use) is asked again after it, this many times: an overloaded moment then costs a
 * technician a second, not an error. A longer wait (the database is down: 5 s) is shown at once, and a
 * write is never repeated here (it may have been applied). */
const BUSY_RETRIES = 2;
const BUSY_MAX_WAIT_S = 2;

function pause(seconds, signal) {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }, seconds * 1000);
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

/**
 * api("/api/v1/me") · api(path, {method: "POST", body, signal}) · api(path, {ifNoneMatch: etag}),
 * which resolves with null on 304 (what the caller holds is still current).
 */
export async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(path, options);
    } catch (error) {
      const wait =
        error instanceof ApiError && error.status === 503 && error.problem.retryable === true ? Number(error.problem.retry_after) : NaN;
      const safe = (options.method ?? "GET") === "GET";
      if (!safe || attempt >= BUSY_RETRIES || !(wait > 0 && wait <= BUSY_MAX_WAIT_S)) throw error;
      await pause(wait, options.signal);
    }
  }
}

async function request(path, { method = "GET", body, signal, ifNoneMatch, retry = true } = {}) {
  const token = await currentToken();
  if (!token) throw new ApiError(401, { title: "Unauthorized", detail: "No FlowPilot token: open FlowPilot from your portal." });
  const headers = { Accept: "application/json, application/problem+json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifNoneMatch) headers["If-None-Match"] = ifNoneMatch;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      signal,
      credentials: "omit",
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "FlowPilot can't reach its server. Check your connection and try again." });
  }
  if (response.status === 401 && retry) {
    const fresh = await refreshToken("expired");
    if (fresh) return request(path, { method, body, signal, ifNoneMatch, retry: false });
  }
  if (response.status === 304 && ifNoneMatch) return null;
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  if (response.status === 204) return null;
  return response.json();
}

async function readProblem(response) {
  try {
    const data = await response.json();
    if (data && typeof data === "object") return data;
  } catch {
    /* not JSON: fall through */
  }
  return { title: response.statusText, status: response.status, detail: `Request failed (${response.status} ${response.statusText}).` };
}

/**
 * POST (or any method) asking for `text/event-stream`, and hand each event to `onEvent({type, data})`
 * with `data` parsed as JSON. Resolves when the stream ends. Errors before the stream starts throw
 * ApiError like api() (401 → one token refresh and retry); a server that answers with plain JSON
 * instead of a stream is reported as one `done` event. A connection lost mid-stream throws
 * ApiError(0) with `streamBroken = true`.
 */
export async function apiStream(path, { method = "POST", body, signal, onEvent, retry = true } = {}) {
  const token = await currentToken();
  if (!token) throw new ApiError(401, { title: "Unauthorized", detail: "No FlowPilot token: open FlowPilot from your portal." });
  const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  let response;
  try {
    response = await fetch(path, { method, headers, signal, credentials: "omit", cache: "no-store", body: JSON.stringify(body ?? {}) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "FlowPilot can't reach its server. Check your connection and try again." });
  }
  if (response.status === 401 && retry) {
    const fresh = await refreshToken("expired");
    if (fresh) return apiStream(path, { method, body, signal, onEvent, retry: false });
  }
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/event-stream") || !response.body) {
    onEvent({ type: "done", data: await response.json() });
    return;
  }
  const parser = new SseParser((event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = event.data;
    }
    onEvent({ type: event.type, data });
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
  } catch (error) {
    if (error.name === "AbortError") throw error;
    const broken = new ApiError(0, {
      title: "Connection lost",
      detail: "The connection to FlowPilot dropped while the reply was streaming.",
    });
    broken.streamBroken = true;
    throw broken;
  } finally {
    parser.end();
    reader.releaseLock?.();
  }
}
