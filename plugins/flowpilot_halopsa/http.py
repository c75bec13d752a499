"""HaloPSA's REST API on httpx: the bearer token, the request budget, retries, errors, pagination.

- Every API request carries ``Authorization: Bearer <token>`` from :mod:`flowpilot_halopsa.auth`;
  a 401 makes it fetch a new token and send the request once more (a 401 is refused before it is
  processed, so even an action's POST may be repeated), and a second 401 is
  :class:`~flowpilot_core.psa.errors.PSAAuthFailed`.
- Every request (token requests too) first takes a place in the instance's sliding-window budget
  (:mod:`flowpilot_core.psa.request_budget`: 300 per 5 minutes by default, in Redis and so shared by
  every FlowPilot process when ``FLOWPILOT_REDIS_URL`` is set); a wait longer than
  ``max_retry_wait`` is returned as :class:`~flowpilot_core.psa.errors.PSARateLimited` without
  sending anything.
- A 429 blocks the budget (for every process sharing it) for its ``Retry-After`` (60 s when it
  names none, since Halo's window is rolling); it is waited out and retried when that fits in
  ``max_retry_wait``. 5xx answers and timeouts are retried only for requests that are safe to
  repeat (GET, and the ticket upsert that sets a value); an action's POST never is: the provider
  re-reads instead.
- Failures become the PSA error tree, with messages built from the status code and Halo's own
  error text, every credential (the client secret and id, every token) scrubbed out of it.
- Lists are read with ``pageinate=true`` page by page until ``record_count`` items are read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flowpilot_core.psa.errors import (
    PSAAuthFailed,
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSATransient,
)
from flowpilot_core.psa.http_client import json_answer, json_or_none, psa_client
from flowpilot_core.psa.request_budget import RequestBudget, Slot, acquire, budget_for
from flowpilot_halopsa.auth import TokenCache, token_form, token_params, tokens_for
from flowpilot_halopsa.config import Config

log = logging.getLogger("flowpilot_halopsa")

PAGE_SIZE = 100
MAX_PAGES = 200
MAX_ERROR_TEXT = 300
UNNAMED_RETRY_AFTER = 60
"""Seconds a 429 without ``Retry-After`` blocks the budget: a rolling 5-minute window does not clear in 5 s."""


def _retry_after(response: httpx.Response) -> int | None:
    raw = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        return None  # an HTTP date, or nothing: not trusted
    return max(0, math.ceil(seconds)) if math.isfinite(seconds) else None


class HaloHttp:
    """One Halo instance's API client. ``transport``, ``sleep``, ``budget`` and ``tokens`` are for tests (the
    budget is otherwise :func:`~flowpilot_core.psa.request_budget.budget_for`'s, and the token cache the
    process's, shared by every provider of the instance)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: RequestBudget | None = None,
        tokens: TokenCache | None = None,
    ) -> None:
        self.config = config
        self.api_url = config.api_url
        self.token_url = config.token_url
        self.backoff = 0.5
        """Seconds before the first retry of a 5xx or a timeout; doubled per attempt, capped by ``max_retry_wait``."""
        self.budget = budget or budget_for(
            f"halopsa:{self.api_url}:{config.client_id}", config.requests_per_window, config.rate_window
        )
        self.tokens = tokens or tokens_for(config)
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._token_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"HaloHttp(api={self.api_url!r}, tenant={self.config.tenant!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = psa_client(self.config.timeout, self._transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def scrub(self, text: str) -> str:
        """``text`` without any credential of this connection (Halo's error text is shown to technicians)."""
        for secret in (*self.tokens.seen, self.config.client_secret, self.config.client_id):
            if len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        return text

    # -- the budget and the token ---------------------------------------------------------------

    async def _spend(self) -> Slot:
        got = await acquire(self.budget, self._sleep, longest_wait=self.config.max_retry_wait)
        if not isinstance(got, Slot):
            raise PSARateLimited(
                f"FlowPilot's budget of {self.budget.limit} HaloPSA requests per {self.budget.window:g} s is spent "
                "(nothing was sent)",
                retry_after=math.ceil(got),
            )
        return got

    async def bearer(self) -> str:
        token = self.tokens.current()
        if token is not None:
            return token
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            return self.tokens.current() or await self._fetch_token()

    async def _fetch_token(self) -> str:
        attempt = 0
        while True:
            slot = await self._spend()
            try:
                response = await self._http().post(
                    self.token_url,
                    params=token_params(self.config),
                    data=token_form(self.config),
                    headers={"Accept": "application/json"},
                )
                await self.budget.settle(slot)
            except httpx.TimeoutException:
                await self.budget.settle(slot)
                failure: PSAError = PSATransient(
                    f"HaloPSA's Authorisation Server did not answer within {self.config.timeout:g} s"
                )
            except httpx.HTTPError as exc:
                await self.budget.settle(slot)
                failure = PSATransient(f"HaloPSA's Authorisation Server could not be reached ({type(exc).__name__})")
            else:
                if response.status_code < 400:
                    try:
                        token = self.tokens.store(response.json())
                    except ValueError as exc:  # the message names what is missing, never the content
                        raise PSAPermanent(f"HaloPSA's Authorisation Server gave no usable token: {exc}") from None
                    log.info("HaloPSA: fetched an access token for %s", self.api_url)
                    return token
                failure = self._token_error(response)
            await self._blocked_by(failure)
            wait = self._wait(failure, attempt, repeatable=True)
            if wait is None:
                raise failure
            await self._pause(failure, wait, "POST", "the token request", attempt)
            attempt += 1

    def _token_error(self, response: httpx.Response) -> PSAError:
        code = response.status_code
        said = self._detail(response)
        suffix = f": {said}" if said else ""
        if code in (400, 401, 403):
            return PSAAuthFailed(
                f"HaloPSA's Authorisation Server refused FlowPilot's client credentials (HTTP {code}){suffix}"
            )
        if code == 404:
            return PSAAuthFailed(
                f"HaloPSA has no token endpoint at {self.token_url} (HTTP 404): check the site, auth_url and tenant"
            )
        return self._error(response, "the token request")

    # -- requests -------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """``method`` on ``path`` under ``/api``; ``what`` names the object in errors (``ticket 42``).

        ``repeatable``: whether sending it twice is harmless (false for an action's POST).
        """
        attempt = 0
        refreshed = False
        while True:
            token = await self.bearer()
            slot = await self._spend()
            headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
            try:
                response = await self._http().request(
                    method, f"{self.api_url}{path}", params=params, json=json, headers=headers
                )
                await self.budget.settle(slot)
            except httpx.TimeoutException:
                await self.budget.settle(slot)
                failure: PSAError = PSATransient(
                    f"HaloPSA did not answer about {what} within {self.config.timeout:g} s"
                    + ("" if repeatable else " (the change may have been applied)")
                )
            except httpx.HTTPError as exc:
                await self.budget.settle(slot)
                failure = PSATransient(f"HaloPSA could not be reached about {what} ({type(exc).__name__})")
            else:
                if response.status_code == 401 and not refreshed:
                    # Expired or revoked: a new token, once. A second 401 is the credentials' fault, not the token's.
                    self.tokens.invalidate(token)
                    refreshed = True
                    log.info("HaloPSA: the access token was refused on %s %s; fetching a new one", method, path)
                    continue
                if response.status_code < 400:
                    return response
                failure = self._error(response, what)
            await self._blocked_by(failure)
            wait = self._wait(failure, attempt, repeatable)
            if wait is None:
                raise failure
            await self._pause(failure, wait, method, path, attempt)
            attempt += 1

    async def _blocked_by(self, failure: PSAError) -> None:
        """A 429 blocks the budget (of every FlowPilot process, when it is shared) for its ``Retry-After``."""
        if isinstance(failure, PSARateLimited):  # only a 429 answer: a spent budget is raised before sending
            await self.budget.block_for(failure.retry_after if failure.retry_after is not None else UNNAMED_RETRY_AFTER)

    def _wait(self, failure: PSAError, attempt: int, repeatable: bool) -> float | None:
        """Seconds to wait before another attempt, or ``None``: give up and raise."""
        if attempt >= self.config.max_retries:
            return None
        if isinstance(failure, PSARateLimited):  # refused before it was processed: safe to repeat, even a POST
            wait = failure.retry_after if failure.retry_after is not None else UNNAMED_RETRY_AFTER
            return float(wait) if wait <= self.config.max_retry_wait else None
        if isinstance(failure, PSATransient) and repeatable:
            return min(self.backoff * 2**attempt, self.config.max_retry_wait)
        return None

    async def _pause(self, failure: PSAError, wait: float, method: str, path: str, attempt: int) -> None:
        log.info("HaloPSA: %s %s failed (%s); retry %d in %.1f s", method, path, failure.title, attempt + 1, wait)
        if not isinstance(failure, PSARateLimited):  # a 429's wait is the budget's block, taken by the next _spend
            await self._sleep(wait)

    async def get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return self.decode(await self.request("GET", path, what=what, params=params))

    async def get_all(self, path: str, key: str, *, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list (``{"record_count": n, key: [...]}``, or a bare array), page by page."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            query = {**(params or {}), "pageinate": "true", "page_size": PAGE_SIZE, "page_no": page}
            body = await self.get(path, what=what, params=query)
            if isinstance(body, list):
                return body  # not paginated: the whole list
            batch = body.get(key) if isinstance(body, dict) else None
            if not isinstance(batch, list):
                raise PSAPermanent(f"HaloPSA answered {what} without a {key!r} list")
            items.extend(batch)
            total = body.get("record_count")
            if not batch or len(batch) < PAGE_SIZE or (isinstance(total, int) and len(items) >= total):
                return items
        raise PSAPermanent(f"{what} has more than {MAX_PAGES * PAGE_SIZE} entries")

    # -- answers --------------------------------------------------------------------------------

    def decode(self, response: httpx.Response) -> Any:
        return json_answer(response, "HaloPSA")

    def _detail(self, response: httpx.Response) -> str:
        """Halo's error text, from whichever of its shapes it came in."""
        body = json_or_none(response)
        if isinstance(body, str):
            text = body
        elif isinstance(body, dict):
            keys = ("errorMessage", "Message", "message", "error_description", "error", "ClassName")
            text = next((str(body[k]) for k in keys if isinstance(body.get(k), str) and body[k]), "")
        else:
            text = ""
        return self.scrub(text.strip()[:MAX_ERROR_TEXT])

    def _error(self, response: httpx.Response, what: str) -> PSAError:
        code = response.status_code
        said = self._detail(response)
        suffix = f": {said}" if said else ""
        if code == 401:
            return PSAAuthFailed(f"HaloPSA refused FlowPilot's access token, a fresh one too (HTTP 401){suffix}")
        if code == 403:
            return PSAPermissionDenied(
                f"HaloPSA's permissions for FlowPilot's API application (or its agent) do not allow this on {what} "
                f"(HTTP 403){suffix}"
            )
        if code == 404:
            return PSANotFound(f"{what} does not exist in HaloPSA (HTTP 404)")
        if code == 429:
            retry_after = _retry_after(response)
            return PSARateLimited(
                f"HaloPSA is rate-limiting FlowPilot (HTTP 429){suffix}",
                retry_after=retry_after if retry_after is not None else UNNAMED_RETRY_AFTER,
            )
        if code >= 500:
            return PSATransient(f"HaloPSA failed on {what} (HTTP {code}){suffix}")
        return PSAPermanent(f"HaloPSA refused the request about {what} (HTTP {code}){suffix}")
