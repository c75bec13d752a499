// JSON client for /api/v1. Every call sends `Authorization: Bearer <token>`; a 401 triggers one
// token refresh (embedded: the host's getToken()) and one retry. Errors are RFC 9457 problem
// details, thrown as ApiError with the server's `detail`.
import { currentToken, refreshToken } from "./bridge.js";

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  get detail() { return this.message; }
  get notFound() { return this.status === 404; }
}

/** api("/api/v1/me") · api(path, {method: "POST", body, signal}) */
export async function api(path, { method = "GET", body, signal, retry = true } = {}) {
  const token = await currentToken();
  if (!token) throw new ApiError(401, { title: "Unauthorized", detail: "No FlowPilot token: open FlowPilot from your portal." });
  const headers = { Accept: "application/json, application/problem+json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "FlowPilot can't reach its server. Check your connection and try again." });
  }
  if (response.status === 401 && retry) {
    const fresh = await refreshToken("expired");
    if (fresh) return api(path, { method, body, signal, retry: false });
  }
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

/** Like api(), but a 404 (endpoint not built yet, or nothing there) resolves to `fallback`. */
export async function apiOptional(path, fallback = null, options = {}) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return fallback;
    throw error;
  }
}
