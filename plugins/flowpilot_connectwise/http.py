"""ConnectWise's REST API on httpx: authentication, the codebase, retries, errors, pagination.

- Every request carries ``Authorization: Basic base64(company+public:private)``, the
  ``clientId`` header and ``Accept: application/vnd.connectwise.com+json; version=<pinned>``.
- The API lives at ``{site}/{codebase}apis/3.0``; the codebase comes from the
  unauthenticated ``/login/companyinfo/{company}`` (sent without credentials) unless the
  config names it. A looked-up codebase is kept for the process for ``CODEBASE_TTL`` seconds,
  shared by every client of that site and company (a writeback builds a client per confirmation).
- A 429 is waited out when its ``Retry-After`` fits in ``max_retry_wait``, else returned as
  :class:`~flowpilot_core.psa.errors.PSARateLimited` with that ``retry_after``. 5xx answers and
  timeouts are retried only for requests that are safe to repeat (GET, and a PATCH that
  replaces a value); a note's POST is never repeated blindly: the provider re-reads instead.
- Failures become the PSA error tree. Their messages are built from the status code and
  ConnectWise's own error text, with every credential scrubbed out of it.
- Lists are read page by page (``pageSize`` 1000, ConnectWise's maximum), following the
  ``Link: rel="next"`` header, and never to another host.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flowpilot_connectwise.config import Config, base_url
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

log = logging.getLogger("flowpilot_connectwise")

PAGE_SIZE = 1000
"""ConnectWise's hard limit per page."""
MAX_PAGES = 200
"""A list longer than this many pages is refused rather than read forever."""
MAX_ERROR_TEXT = 300
CODEBASE_TTL = 3600.0
"""Seconds a looked-up codebase is reused: it changes only when ConnectWise upgrades the site."""

_codebases: dict[tuple[str, str], tuple[str, float]] = {}
"""(site, company) -> (API URL, when it was looked up), for the whole process."""
clock: Callable[[], float] = time.monotonic


def _retry_after(response: httpx.Response) -> int | None:
    raw = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        return None  # ConnectWise documents a number of seconds; anything else is not trusted
    return max(0, math.ceil(seconds)) if math.isfinite(seconds) else None



class ConnectWiseHttp:
    """One tenant's API client. ``transport`` and ``sleep`` are for tests (a mock transport, a recorded clock)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.site = base_url(config.site)
        self.backoff = 0.5
        """Seconds before the first retry of a 5xx or a timeout; doubled per attempt, capped by ``max_retry_wait``."""
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._api_url: str | None = f"{self.site}/{config.codebase.rstrip('/')}/apis/3.0" if config.codebase else None
        token = base64.b64encode(f"{config.company}+{config.public_key}:{config.private_key}".encode()).decode()
        self._secrets = tuple(
            s for s in (config.private_key, config.public_key, config.client_id, token) if len(s) >= 4
        )
        self._auth_headers = {"Authorization": f"Basic {token}", "clientId": config.client_id}

    def __repr__(self) -> str:
        return f"ConnectWiseHttp(site={self.site!r}, company={self.config.company!r})"

    @property
    def accept(self) -> str:
        return f"application/vnd.connectwise.com+json; version={self.config.api_version}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = psa_client(self.config.timeout, self._transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def scrub(self, text: str) -> str:
        """``text`` without any credential of this connection (ConnectWise's error text is echoed to technicians)."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    # -- the codebase ---------------------------------------------------------------------------

    async def api_url(self) -> str:
        key = (self.site.lower(), self.config.company.lower())
        if self._api_url is None and (known := _codebases.get(key)) and clock() - known[1] < CODEBASE_TTL:
            self._api_url = known[0]
        if self._api_url is None:
            url = f"{self.site}/login/companyinfo/{self.config.company}"
            try:
                response = await self._http().get(url, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise PSATransient(f"ConnectWise at {self.site} could not be reached ({type(exc).__name__})") from None
            if response.status_code == 404:
                raise PSAAuthFailed(f"ConnectWise at {self.site} knows no company {self.config.company!r}")
            if response.status_code >= 400:
                raise self._error(response, "the codebase lookup")
            codebase = self._json(response).get("Codebase") if response.content else None
            if not isinstance(codebase, str) or not codebase.strip("/"):
                raise PSAPermanent(f"ConnectWise at {self.site} did not name a codebase for {self.config.company!r}")
            self._api_url = f"{self.site}/{codebase.strip('/')}/apis/3.0"
            _codebases[key] = (self._api_url, clock())
        return self._api_url

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
        url: str | None = None,
    ) -> httpx.Response:
        """``method`` on ``path`` under the API; ``what`` names the object in errors (``ticket 42``).

        ``repeatable``: whether sending it twice is harmless (false for a note's POST).
        """
        target = url or f"{await self.api_url()}{path}"
        headers = {"Accept": self.accept, **self._auth_headers}
        if json is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = await self._http().request(method, target, params=params, json=json, headers=headers)
            except httpx.TimeoutException:
                failure: PSAError = PSATransient(
                    f"ConnectWise did not answer about {what} within {self.config.timeout:g} s"
                    + ("" if repeatable else " (the change may have been applied)")
                )
            except httpx.HTTPError as exc:
                failure = PSATransient(f"ConnectWise could not be reached about {what} ({type(exc).__name__})")
            else:
                if response.status_code < 400:
                    return response
                failure = self._error(response, what)
            wait = self._wait(failure, attempt, repeatable)
            if wait is None:
                raise failure
            log.info(
                "ConnectWise: %s %s failed (%s); retry %d in %.1f s", method, path, failure.title, attempt + 1, wait
            )
            await self._sleep(wait)
            attempt += 1

    async def as_member(self, path: str, *, company: str, member_id: str, member_hash: str, what: str) -> Any:
        """One GET made as a hosted member (their pod session), not as FlowPilot's API member.

        [U] ConnectWise's Hosted API hands a pod ``memberHash``; this request presents it the way
        pods authenticate back to the REST API, as the ``companyName``/``memberId``/``memberHash``
        cookies beside the ``clientId`` header, and never FlowPilot's own keys. Not retried: a
        member check is cheap to ask for again and must never be confirmed by a guess.
        """
        for value in (company, member_id, member_hash):
            if not value or any(c in value for c in ';,"\r\n\\') or len(value) > 2048:
                raise PSAAuthFailed("ConnectWise's member authentication is malformed")
        cookie = f"companyName={company}; memberId={member_id}; memberHash={member_hash}"
        headers = {"Accept": self.accept, "clientId": self.config.client_id, "Cookie": cookie}
        try:
            response = await self._http().get(f"{await self.api_url()}{path}", headers=headers)
        except httpx.HTTPError as exc:
            raise PSATransient(f"ConnectWise could not be reached about {what} ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise PSAAuthFailed(f"ConnectWise did not confirm {what} (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise self._error(response, what)
        return self._json(response)

    def _wait(self, failure: PSAError, attempt: int, repeatable: bool) -> float | None:
        """Seconds to wait before another attempt, or ``None``: give up and raise."""
        if attempt >= self.config.max_retries:
            return None
        if isinstance(failure, PSARateLimited):  # refused before it was processed: safe to repeat, even a POST
            wait = failure.retry_after if failure.retry_after is not None else self.backoff * 2**attempt
            return float(wait) if wait <= self.config.max_retry_wait else None
        if isinstance(failure, PSATransient) and repeatable:
            return min(self.backoff * 2**attempt, self.config.max_retry_wait)
        return None

    async def get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(await self.request("GET", path, what=what, params=params))

    async def get_all(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list, page by page."""
        api = await self.api_url()
        query: dict[str, Any] | None = {**(params or {}), "page": 1, "pageSize": PAGE_SIZE}
        url: str | None = None
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            response = await self.request("GET", path, what=what, params=query, url=url)
            batch = self._json(response)
            if not isinstance(batch, list):
                raise PSAPermanent(f"ConnectWise answered {what} with something that is not a list")
            items.extend(batch)
            following = response.links.get("next", {}).get("url")
            if following:
                if not str(following).startswith(f"{api}/"):
                    raise PSAPermanent(f"ConnectWise's next page of {what} points away from {self.site}")
                url, query = str(following), None  # the link carries the page parameters
            elif len(batch) >= PAGE_SIZE:
                url, query = None, {**(params or {}), "page": page + 1, "pageSize": PAGE_SIZE}
            else:
                return items
        raise PSAPermanent(f"{what} has more than {MAX_PAGES * PAGE_SIZE} entries")

    # -- answers --------------------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> Any:
        return json_answer(response, "ConnectWise")

    def _detail(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("message") or body.get("code") or "")]
        for item in body.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                parts.append(str(item["message"]))
        text = " ".join(p for p in parts if p).strip()
        return self.scrub(text[:MAX_ERROR_TEXT])

    def _error(self, response: httpx.Response, what: str) -> PSAError:
        code = response.status_code
        said = self._detail(response)
        suffix = f": {said}" if said else ""
        if code == 401:
            return PSAAuthFailed(f"ConnectWise rejected FlowPilot's credentials (HTTP 401){suffix}")
        if code == 403:
            return PSAPermissionDenied(
                f"ConnectWise's security role for FlowPilot's API member does not allow this on {what} (HTTP 403)"
                f"{suffix}"
            )
        if code == 404:
            return PSANotFound(f"{what} does not exist in ConnectWise (HTTP 404){suffix}")
        if code == 429:
            retry_after = _retry_after(response)
            return PSARateLimited(f"ConnectWise is rate-limiting FlowPilot (HTTP 429){suffix}", retry_after=retry_after)
        if code >= 500:
            return PSATransient(f"ConnectWise failed on {what} (HTTP {code}){suffix}")
        return PSAPermanent(f"ConnectWise refused the request about {what} (HTTP {code}){suffix}")
