"""The conformance kit's fault adapter for a fake whose faults fire per HTTP route.

The built-in PSA fakes (ConnectWise, Autotask, HaloPSA) share one fault vocabulary, keyed by
the fake's route names (:class:`RouteFaultable`). :class:`RouteFaults` maps the kit's
:class:`~flowpilot_core.testing.psa_conformance.PSAFaults` onto it; a plugin subclasses it with
its ``ROUTE_OF`` map. Kept free of pytest so a plugin's ``testing`` module imports it without the
test extras.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from flowpilot_core.testing.psa_conformance import Operation


class RouteFaultable(Protocol):
    """The fake side of :class:`RouteFaults`: faults on the next request(s) to a named route.

    ``route`` is the fake's own name for one request (``"get_ticket"``, ``"post_note"``, ...);
    ticket and status ids are the PSA's integer ids. Arguments are positional (the fakes name them
    differently).
    """

    def rate_limit(self, route: str, retry_after: int, /) -> None:
        """The next request to ``route`` gets a 429 with ``Retry-After: retry_after`` and changes nothing."""

    def fail(self, route: str, status: int, /, *, times: int) -> None:
        """The next ``times`` requests to ``route`` get ``status`` (a 5xx) and change nothing."""

    def timeout_after_write(self, route: str, /) -> None:
        """The next request to ``route`` is applied, then its answer is held back past the client's timeout."""

    def workflow_sets(self, status_id: int, /) -> None:
        """A workflow rule moves a ticket to ``status_id`` right after every status change."""

    def revoke(self) -> None:
        """The credentials stop working (every API request is a 401)."""

    def delete_ticket(self, ticket_id: int, /) -> None:
        """The ticket is gone from the PSA."""


class RouteFaults:
    """:class:`~flowpilot_core.testing.psa_conformance.PSAFaults` over a :class:`RouteFaultable` fake.

    A subclass sets :attr:`ROUTE_OF`: for each provider method the kit names, the fake's route
    its fault hits.
    """

    ROUTE_OF: ClassVar[Mapping[str, str]]
    """The provider method's request a fault hits (e.g. ``get_status`` is reading the ticket)."""

    SERVER_ERROR_STATUS: ClassVar[int] = 503
    """The 5xx :meth:`server_error` answers with (503: the service is out of service for now)."""

    def __init__(self, fake: RouteFaultable) -> None:
        self.fake = fake

    def rate_limit(self, operation: Operation, retry_after: int) -> None:
        self.fake.rate_limit(self.ROUTE_OF[operation], retry_after)

    def server_error(self, operation: Operation, times: int) -> None:
        self.fake.fail(self.ROUTE_OF[operation], self.SERVER_ERROR_STATUS, times=times)

    def timeout_after_write(self, operation: Operation) -> None:
        self.fake.timeout_after_write(self.ROUTE_OF[operation])

    def workflow_overwrite(self, ref: str, status_id: str) -> None:
        self.fake.workflow_sets(int(status_id))

    def revoke_credentials(self) -> None:
        self.fake.revoke()

    def delete_ticket(self, ref: str) -> None:
        self.fake.delete_ticket(int(ref))
