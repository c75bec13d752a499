"""PSA failures as a technician and an operator need them: what happened, and whether a retry may help.

All are :class:`~flowpilot_core.errors.UpstreamUnavailable` (problem details with
``retryable`` and ``Retry-After`` in the one error map). Messages never carry a
credential: providers build them from status codes and the PSA's own error text.
"""

from __future__ import annotations

from flowpilot_core.errors import UpstreamUnavailable


class PSAError(UpstreamUnavailable):
    status = 502
    title = "PSA error"

    def __init__(self, detail: str, *, retry_after: int | None = None, retryable: bool = False) -> None:
        super().__init__(detail, retry_after=retry_after, retryable=retryable)


class PSAAuthFailed(PSAError):
    title = "PSA rejected the credentials"


class PSAPermissionDenied(PSAError):
    title = "PSA permission denied"


class PSANotFound(PSAError):
    title = "PSA ticket not found"


class PSAPermanent(PSAError):
    title = "PSA refused the request"


class PSATransient(PSAError):
    status = 503
    title = "PSA unavailable"

    def __init__(self, detail: str, *, retry_after: int | None = None, retryable: bool = True) -> None:
        super().__init__(detail, retry_after=retry_after, retryable=retryable)


class PSARateLimited(PSATransient):
    title = "PSA rate limit reached"
