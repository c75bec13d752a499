"""Autotask's REST API on httpx: the zone, the headers, limits, retries, errors and paging.

- The zone: ``GET {zone_lookup}/v1.0/zoneInformation?user=<username>`` (unauthenticated)
  names the database's REST root (``url``); the API is ``{url}v1.0``, used exactly as given.
  The lookup is sent past httpx's request log, because its URL carries the user name, and
  its answer is kept for the process. A 401 from a looked-up zone re-asks once per
  provider (zones move); a configured ``zone_url`` is used as it is.
- Every API request carries ``ApiIntegrationCode``, ``UserName`` and ``Secret``; bodies are JSON.
- Limits (:mod:`flowpilot_autotask.shared`): 3 concurrent requests per endpoint, the hourly
  budget, and a pause when ``ThresholdInformation`` shows the database near its limit.
- A 429 is waited out when its ``Retry-After`` fits in ``max_retry_wait``, else returned as
  :class:`~flowpilot_core.psa.errors.PSARateLimited`. 502/503/504 and timeouts are retried
  only for requests that are safe to repeat. **A 500 is never retried**: Autotask answers
  permission errors and refused values with 500, so it is reported, saying so.
- Failures become the PSA error tree; messages are built from the status code and
  Autotask's ``errors`` text, with every credential scrubbed out of it.
- Query results are read page by page, following ``pageDetails.nextPageUrl`` (never to another host).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from flowpilot_autotask import shared
from flowpilot_autotask.config import Config, loopback, rest_root
from flowpilot_core.psa.errors import (
    PSAAuthFailed,
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSATransient,
)
from flowpilot_core.psa.http_client import json_answer, json_or_none, psa_client, tls_context
from flowpilot_core.psa.request_budget import RequestBudget, Slot

log = logging.getLogger("flowpilot_autotask")

API_VERSION = "v1.0"
MAX_RECORDS = 500
"""Autotask's largest page (``MaxRecords`` takes 1-500)."""
MAX_PAGES = 100
MAX_ERROR_TEXT = 300
RETRYABLE_STATUSES = (502, 503, 504)
_PERMISSION = re.compile(r"permission|not authori[sz]ed|security level|access denied|not allowed", re.IGNORECASE)


def _retry_after(response: httpx.Response) -> int | None:
    raw = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        return None  # a number of seconds is all that is trusted
    return max(0, math.ceil(seconds)) if math.isfinite(seconds) else None


def endpoint_of(path: str) -> str:
    """The object endpoint a path belongs to, for the thread limit (``/Tickets/5/Notes`` is TicketNotes)."""
    segments = [s for s in path.split("?")[0].split("/") if s]
    if len(segments) >= 3 and segments[0] == "Tickets" and segments[2] == "Notes":
        return "TicketNotes"
    return segments[0] if segments else ""


class AutotaskHttp:
    """One database's API client. ``transport`` and ``sleep`` are for tests (a mock transport, a recorded clock)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.backoff = 0.5
        """Seconds before the first retry of a 502/503/504 or a timeout; doubled per attempt."""
        self._sleep = sleep
        self._given_transport = transport
        self._transport: httpx.AsyncBaseTransport | None = None
        self._client: httpx.AsyncClient | None = None
        self._configured_zone = rest_root(config.zone_url, what="zone_url") if config.zone_url else None
        self._zone: str | None = self._configured_zone
        self._zone_rechecked = False
        self._zone_lock: asyncio.Lock | None = None
        self._secrets = tuple(
            s
            for s in (config.secret, config.integration_code, config.username, quote(config.username, safe=""))
            if len(s) >= 4
        )
        self._auth_headers = {
            "ApiIntegrationCode": config.integration_code,
            "UserName": config.username,
            "Secret": config.secret,
        }

    def __repr__(self) -> str:
        return f"AutotaskHttp(zone={self._zone!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._transport = self._given_transport or httpx.AsyncHTTPTransport(verify=tls_context())
            self._client = psa_client(self.config.timeout, self._transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def scrub(self, text: str) -> str:
        """``text`` without any credential of this connection (Autotask's error text is shown to technicians)."""
        for secret in self._secrets:
            text = re.sub(re.escape(secret), "[redacted]", text, flags=re.IGNORECASE)
        return text

    # -- the zone -------------------------------------------------------------------------------

    async def api_url(self) -> str:
        if self._zone is None:
            self._zone_lock = self._zone_lock or asyncio.Lock()
            async with self._zone_lock:  # concurrent first calls make one lookup
                if self._zone is None:
                    self._zone = shared.known_zone(self.config.zone_lookup, self.config.username)
                if self._zone is None:
                    self._zone = await self._lookup_zone()
        return f"{self._zone}{API_VERSION}"

    @property
    def state(self) -> shared.TenantState:
        assert self._zone is not None
        return shared.tenant(self._zone, self.config.username)

    async def _lookup_zone(self) -> str:
        lookup = rest_root(self.config.zone_lookup, what="zone_lookup")
        request = httpx.Request(
            "GET",
            f"{lookup}{API_VERSION}/zoneInformation",
            params={"user": self.config.username},
            headers={"Accept": "application/json"},
            extensions={"timeout": httpx.Timeout(self.config.timeout).as_dict()},
        )
        self._http()
        assert self._transport is not None
        try:
            # Straight to the transport: httpx's client logs every request's URL, and this one names the user.
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise PSATransient(f"Autotask's zone lookup did not answer within {self.config.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise PSATransient(f"Autotask's zone lookup could not be reached ({type(exc).__name__})") from None
        if response.status_code == 500:
            # What Autotask answers for a user name it does not know.
            raise PSAAuthFailed("Autotask's zone lookup does not know the API user name (HTTP 500)")
        if response.status_code >= 400:
            raise self._error(response, "the zone lookup")
        url = self.decode(response).get("url") if response.content else None
        if not isinstance(url, str) or not url.strip():
            raise PSAPermanent("Autotask's zone lookup did not name the zone's URL")
        zone = rest_root(url, what="the zone URL")
        self._trust(lookup, zone)
        shared.keep_zone(self.config.zone_lookup, self.config.username, zone)
        return zone

    @staticmethod
    def _trust(lookup: str, zone: str) -> None:
        """The credentials go to the zone: only to https on Autotask's own domain (or a loopback fake)."""
        lookup_host = urlsplit(lookup).hostname or ""
        zone_host = urlsplit(zone).hostname or ""
        if lookup_host.endswith(".autotask.net") and not zone_host.endswith(".autotask.net"):
            raise PSAPermanent("Autotask's zone lookup named a zone outside autotask.net; nothing was sent to it")
        if urlsplit(zone).scheme == "http" and not loopback(zone_host):
            raise PSAPermanent("Autotask's zone lookup named a plain-http zone; nothing was sent to it")

    # -- limits ---------------------------------------------------------------------------------

    def _hourly(self) -> RequestBudget:
        """FlowPilot's hourly budget for this database (every process's, when Redis is configured)."""
        assert self._zone is not None
        return shared.hourly_budget(self._zone, self.config.username, self.config.hourly_budget)

    async def _within_limits(self) -> None:
        """Refuse before sending when the hour's budget is spent or the database is near Autotask's limit."""
        state = self.state
        budget = self._hourly()
        now = shared.clock()
        if state.usage_due(now):
            await self._read_usage()
            now = shared.clock()  # the reading took time: the pause counts from when it was taken
        usage = state.usage
        if usage is not None and usage.limit > 0:
            used = usage.used + await budget.count_since(now - usage.read_at)
            if used >= usage.limit * self.config.usage_ceiling:
                wait = max(1, math.ceil(state.usage_checked_at + shared.THRESHOLD_CHECK_SECONDS - now))
                raise PSARateLimited(
                    f"the Autotask database has used {used} of its {usage.limit} requests this hour; FlowPilot "
                    f"pauses at {self.config.usage_ceiling:.0%} so that it does not lock out every integration",
                    retry_after=wait,
                )
        got = await budget.take()
        if not isinstance(got, Slot):
            raise PSARateLimited(
                f"FlowPilot has sent its {self.config.hourly_budget} Autotask requests for this hour "
                "(the connection's hourly_budget)",
                retry_after=max(1, math.ceil(got)),
            )

    async def _read_usage(self) -> None:
        if not isinstance(await self._hourly().take(), Slot):
            return  # the budget is spent: the request that follows is refused anyway
        try:
            response = await self._send(
                "GET", f"{await self.api_url()}/ThresholdInformation", None, "ThresholdInformation"
            )
        except httpx.HTTPError:
            return  # the request that follows reports the failure
        if response.status_code >= 400:
            log.info(
                "Autotask: ThresholdInformation answered HTTP %d; only the hourly budget applies", response.status_code
            )
            return
        try:
            body = response.json()
            limit, used = int(body["externalRequestThreshold"]), int(body["currentTimeframeRequestCount"])
        except (ValueError, KeyError, TypeError):
            log.info("Autotask: ThresholdInformation had no usable counts; only the hourly budget applies")
            return
        self.state.usage = shared.Usage(limit=limit, used=used, read_at=shared.clock())

    async def _send(self, method: str, url: str, json: Any, endpoint: str) -> httpx.Response:
        headers = {"Accept": "application/json", **self._auth_headers}
        if json is not None:
            headers["Content-Type"] = "application/json"
        assert self._zone is not None
        # A place is held at most this long in Redis: a request that outlives httpx's per-phase timeouts is rare,
        # and a process that dies holding a place frees it when the lease ends.
        lease = max(10.0, 4 * self.config.timeout)
        async with shared.thread_limit(self._zone, self.config.username, endpoint, lease).slot():
            return await self._http().request(method, url, json=json, headers=headers)

    # -- requests -------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        repeatable: bool = True,
        url: str | None = None,
    ) -> httpx.Response:
        """``method`` on ``path`` under the API; ``what`` names the object in errors (``ticket 42``).

        ``repeatable``: whether sending it twice is harmless (false for a note's POST).
        """
        attempt = 0
        while True:
            target = url or f"{await self.api_url()}{path}"
            await self._within_limits()
            try:
                response = await self._send(method, target, json, endpoint_of(path))
            except httpx.TimeoutException:
                failure: PSAError = PSATransient(
                    f"Autotask did not answer about {what} within {self.config.timeout:g} s"
                    + ("" if repeatable else " (the change may have been applied)")
                )
            except httpx.HTTPError as exc:
                failure = PSATransient(f"Autotask could not be reached about {what} ({type(exc).__name__})")
            else:
                if response.status_code < 400:
                    return response
                if response.status_code == 401 and url is None and await self._zone_moved():
                    continue  # the same request, on the database's new zone
                failure = self._error(response, what)
            wait = self._wait(failure, attempt, repeatable)
            if wait is None:
                raise failure
            log.info("Autotask: %s %s failed (%s); retry %d in %.1f s", method, path, failure.title, attempt + 1, wait)
            await self._sleep(wait)
            attempt += 1

    async def _zone_moved(self) -> bool:
        """After a 401: ask the zone again, once per provider; true when the database answers elsewhere now."""
        if self._configured_zone is not None or self._zone_rechecked:
            return False
        self._zone_rechecked = True
        before = self._zone
        self._zone = await self._lookup_zone()
        if self._zone != before:
            log.info("Autotask: the database moved to another zone; the request is sent there")
            return True
        return False

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

    async def get_item(self, path: str, *, what: str) -> dict[str, Any] | None:
        """The ``item`` of a single-entity GET; ``None`` for an empty item (missing, or not visible to this user)."""
        body = self.decode(await self.request("GET", path, what=what))
        item = body.get("item") if isinstance(body, dict) else None
        if item is not None and not isinstance(item, dict):
            raise PSAPermanent(f"Autotask answered {what} with an item that is not an object")
        return item or None

    async def query(self, entity: str, filters: list[dict[str, Any]], *, what: str) -> list[dict[str, Any]]:
        """Every match of ``POST /{entity}/query``, page by page (``nextPageUrl`` gets the same body)."""
        api = await self.api_url()
        body = {"MaxRecords": MAX_RECORDS, "filter": filters}
        url: str | None = None
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = await self.request("POST", f"/{entity}/query", what=what, json=body, url=url)
            page = self.decode(response)
            batch = page.get("items") if isinstance(page, dict) else None
            if not isinstance(batch, list):
                raise PSAPermanent(f"Autotask answered {what} without a list of items")
            items.extend(i for i in batch if isinstance(i, dict))
            following = (page.get("pageDetails") or {}).get("nextPageUrl")
            if not following:
                return items
            if not str(following).lower().startswith(f"{api}/".lower()):
                raise PSAPermanent(f"Autotask's next page of {what} points away from the zone")
            url = str(following)
        raise PSAPermanent(f"{what} has more than {MAX_PAGES * MAX_RECORDS} entries")

    # -- answers --------------------------------------------------------------------------------

    def decode(self, response: httpx.Response) -> Any:
        return json_answer(response, "Autotask")

    def _detail(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        if not isinstance(body, dict):
            return ""
        parts = [str(body.get("message") or "")]
        errors = body.get("errors")
        if isinstance(errors, list):
            parts.extend(str(e.get("message") if isinstance(e, dict) else e) for e in errors)
        text = " ".join(p.strip() for p in parts if p and p.strip())
        return self.scrub(text[:MAX_ERROR_TEXT])

    def _error(self, response: httpx.Response, what: str) -> PSAError:
        code = response.status_code
        said = self._detail(response)
        suffix = f": {said}" if said else ""
        if code == 401:
            return PSAAuthFailed(
                f"Autotask rejected FlowPilot's API user, secret or integration code (HTTP 401){suffix}"
            )
        if code == 403:
            return PSAPermissionDenied(f"Autotask's security level for FlowPilot's API user does not allow this on "
                                       f"{what} (HTTP 403){suffix}")  # fmt: skip
        if code == 404:
            return PSANotFound(f"{what} does not exist in Autotask (HTTP 404)")
        if code == 429:
            return PSARateLimited(f"Autotask is limiting FlowPilot's requests (HTTP 429){suffix}",
                                  retry_after=_retry_after(response))  # fmt: skip
        if code == 500:
            if _PERMISSION.search(said):
                return PSAPermissionDenied(
                    f"Autotask refused {what} for lack of permission (HTTP 500{suffix}); give FlowPilot's API user "
                    "a security level that allows it"
                )
            return PSAPermanent(
                f"Autotask refused the request about {what} (HTTP 500{suffix}). Autotask answers permission errors "
                "and refused values alike with 500, so FlowPilot did not retry it: check the API user's security "
                "level and the ticket's required fields"
            )
        if code in RETRYABLE_STATUSES:
            return PSATransient(f"Autotask is unavailable for {what} (HTTP {code}){suffix}")
        return PSAPermanent(f"Autotask refused the request about {what} (HTTP {code}){suffix}")
