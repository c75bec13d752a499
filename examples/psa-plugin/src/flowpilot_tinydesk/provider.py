"""The TinyDesk provider: FlowPilot's PSA seam on TinyDesk's REST API, over httpx.

TinyDesk's API (see :mod:`flowpilot_tinydesk.testing` for the fake that follows it):

- ``Authorization: Token <api_key>`` on every request; 401 for a bad or revoked key;
- ``GET /api/tickets/{id}``, ``GET /api/tickets/{id}/comments``,
  ``POST /api/tickets/{id}/comments`` ``{"body", "private"}`` (201 with the comment),
  ``GET /api/statuses``, ``PUT /api/tickets/{id}/status`` ``{"status_id"}``;
- 429 with ``Retry-After`` (seconds) when the key's budget is spent; 404 for a ticket that
  does not exist; 422 for a status id it does not know.

What a provider must get right, and where this one does it:

- **Errors** become FlowPilot's PSA error tree (:func:`_error`), so the writeback knows
  whether a retry may help; messages come from the status code and the PSA's own text,
  never from the request (the key is in the request).
- **Never post twice**: a comment's POST is never retried here. A timeout after the write
  raises a retryable :class:`~flowpilot_core.psa.PSATransient`; the writeback then looks for
  its idempotency marker with :meth:`list_notes` before it posts again.
- **No credential in a repr**: the key is kept out of ``__repr__`` and every message.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import httpx
import msgspec

from flowpilot_core.psa import (
    NoteKind,
    PSAAuthFailed,
    PSAError,
    PSANote,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSAStatus,
    PSATicket,
    PSATransient,
)


class Config(msgspec.Struct, forbid_unknown_fields=True):
    """A TinyDesk connection: where it is and the API key (stored encrypted by FlowPilot)."""

    url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+")]
    api_key: Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0


def _retry_after(response: httpx.Response) -> int | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return max(0, math.ceil(seconds)) if math.isfinite(seconds) else None


def _error(response: httpx.Response, what: str) -> PSAError:
    try:
        said = str(response.json().get("error", ""))[:300]
    except ValueError:
        said = ""
    detail = f"TinyDesk answered {response.status_code} to {what}" + (f": {said}" if said else "")
    code = response.status_code
    if code == 401:
        return PSAAuthFailed(detail)
    if code == 403:
        return PSAPermissionDenied(detail)
    if code == 404:
        return PSANotFound(detail)
    if code == 429:
        return PSARateLimited(detail, retry_after=_retry_after(response))
    if code >= 500:
        return PSATransient(detail, retry_after=_retry_after(response))
    return PSAPermanent(detail)


def _status(raw: dict[str, Any]) -> PSAStatus:
    return PSAStatus(id=str(raw["id"]), name=str(raw["name"]), closed=bool(raw.get("closed", False)))


class TinyDeskProvider:
    """One TinyDesk connection."""

    def __init__(self, config: Config, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = config.url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self._base,
            headers={"Authorization": f"Token {config.api_key}", "Accept": "application/json"},
            timeout=config.timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"TinyDeskProvider(url={self._base!r})"

    async def _call(self, method: str, path: str, what: str, body: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TimeoutException:
            # The request may have been applied: say so, and let the caller look before it repeats a write.
            raise PSATransient(f"TinyDesk did not answer {what} in time; it may have been applied") from None
        except httpx.HTTPError as exc:
            raise PSATransient(f"TinyDesk at {self._base} could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise _error(response, what)
        return response.json() if response.content else None

    async def get_ticket(self, ref: str) -> PSATicket:
        raw = await self._call("GET", f"/api/tickets/{ref}", f"reading ticket {ref}")
        return PSATicket(
            ref=str(raw["id"]),
            summary=raw["title"],
            description=raw.get("body"),
            status=_status(raw["status"]),
            company=raw.get("customer"),
            contact=raw.get("requester"),
            board=raw.get("queue"),
        )

    async def list_notes(self, ref: str) -> list[PSANote]:
        raw = await self._call("GET", f"/api/tickets/{ref}/comments", f"listing ticket {ref}'s comments")
        return [PSANote(id=str(c["id"]), text=c["body"], internal=bool(c["private"])) for c in raw]

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        # TinyDesk has one kind of comment; the resolution is a private comment like the others.
        raw = await self._call(
            "POST", f"/api/tickets/{ref}/comments", f"a comment on ticket {ref}", {"body": text, "private": internal}
        )
        return PSANote(id=str(raw["id"]), text=raw["body"], internal=bool(raw["private"]))

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        return [_status(s) for s in await self._call("GET", "/api/statuses", "listing statuses")]

    async def set_status(self, ref: str, status_id: str) -> None:
        try:
            body = {"status_id": int(status_id)}
        except ValueError:
            raise PSAPermanent(f"TinyDesk status ids are numbers, not {status_id!r}") from None
        await self._call("PUT", f"/api/tickets/{ref}/status", f"the status of ticket {ref}", body)

    async def get_status(self, ref: str) -> PSAStatus:
        raw = await self._call("GET", f"/api/tickets/{ref}", f"reading ticket {ref}'s status")
        return _status(raw["status"])

    async def check_connection(self) -> None:
        await self._call("GET", "/api/statuses", "a connection check")

    async def aclose(self) -> None:
        await self._client.aclose()
