"""One adapter per PSA fake for the fault matrix: start the fake, add a ticket, inject a fault by name, and read
back the fake's own state (the notes carrying FlowPilot's marker, the ticket's status).

The generic faults go through each plugin's conformance-kit fault adapter (``ConnectWiseFaults``,
``AutotaskFaults``, ``HaloFaults``, and ``FakePSAFaults`` for the in-memory FakePSA), so a fault
means what the plugin's own contract tests mean by it. Faults only one PSA has (Halo's token
expiring mid-writeback, Autotask's permission 500) are the fakes' own methods.
"""

from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from flowpilot_autotask.testing import AutotaskFaults, FakeAutotask
from flowpilot_connectwise.testing import ConnectWiseFaults, FakeConnectWise
from flowpilot_halopsa.config import Config
from flowpilot_halopsa.testing import FakeHaloPSA, HaloFaults

from flowpilot_core import hookimpl
from flowpilot_core.psa.request_budget import SlidingWindow, budget_for
from flowpilot_core.testing.fake_psa import FakePSA
from flowpilot_core.testing.psa_conformance import PSAFaults
from tests.psa.test_conformance import FakePSAFaults

MARKER = "[FlowPilot "
"""What every note FlowPilot posts ends with (``[FlowPilot resolution <writeback id>]``)."""
TIMEOUT = 0.5
"""The providers' request timeout: a held-back answer (``HANG``) outlasts it."""
HANG = 1.0
SHORT_RETRY_AFTER, LONG_RETRY_AFTER = 1, 120
"""A Retry-After a provider waits out inside the call, and one it reports instead (above ``max_retry_wait``)."""

GENERIC_FAULTS = (
    "none", "rate_limit_short", "rate_limit_long", "server_error_once", "timeout_after_note",
    "timeout_after_status", "workflow_overwrite", "credentials_revoked", "ticket_deleted",
)  # fmt: skip


@dataclass(frozen=True)
class Note:
    id: str
    text: str


class MatrixPSA(ABC):
    """A started fake of one PSA, as the matrix drives it."""

    provider: str
    resolved: str
    escalated: str
    extra_faults: tuple[str, ...] = ()
    faults: PSAFaults
    fake: Any

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The connection config FlowPilot stores for this fake."""

    @abstractmethod
    def add_ticket(self) -> str:
        """A new open ticket ("In Progress"); returns its ref."""

    @abstractmethod
    def status_id(self, ref: str) -> str: ...

    @abstractmethod
    def status_name(self, ref: str) -> str | None:
        """The ticket's status as the fake holds it (``None``: the ticket is gone)."""

    @abstractmethod
    def notes(self, ref: str) -> list[Note]: ...

    @property
    @abstractmethod
    def secrets(self) -> list[str]: ...

    def answered(self, status: int) -> bool | None:
        """Whether the fake answered a request with ``status`` (``None``: it answers no HTTP requests)."""
        return any(request.status == status for request in self.fake.requests)

    def marked_notes(self, ref: str) -> list[Note]:
        return [note for note in self.notes(ref) if MARKER in note.text]

    def inject(self, fault: str, ref: str) -> None:
        """Arrange ``fault`` for the next writeback to ``ref``."""
        if fault == "none":
            return
        if fault == "rate_limit_short":
            self.faults.rate_limit("post_note", SHORT_RETRY_AFTER)
        elif fault == "rate_limit_long":
            self.faults.rate_limit("post_note", LONG_RETRY_AFTER)
        elif fault == "server_error_once":
            self.faults.server_error("post_note", 1)
        elif fault == "timeout_after_note":
            self.faults.timeout_after_write("post_note")
        elif fault == "timeout_after_status":
            self.faults.timeout_after_write("set_status")
        elif fault == "workflow_overwrite":  # a rule puts the ticket back where it was after every status change
            self.faults.workflow_overwrite(ref, self.status_id(ref))
        elif fault == "credentials_revoked":
            self.faults.revoke_credentials()
        elif fault == "ticket_deleted":
            self.faults.delete_ticket(ref)
        else:
            self.inject_extra(fault, ref)

    def inject_extra(self, fault: str, ref: str) -> None:
        raise ValueError(f"{self.provider} has no fault {fault!r}")

    def wait_out(self, seconds: float) -> None:
        """``seconds`` pass for the provider (the technician waits a Retry-After before retrying): a provider that
        keeps no clock of its own between writebacks needs nothing."""
        return None


class HttpFakeMatrix(MatrixPSA):
    """What the three HTTP fakes answer alike: a config, a ticket by number, its status name, the credentials."""

    def config(self) -> dict[str, Any]:
        return self.fake.config(timeout=TIMEOUT)

    def add_ticket(self) -> str:
        return str(self.fake.add_ticket("Printer offline", status="In Progress").id)

    def status_name(self, ref: str) -> str | None:
        return self.fake.status_name(int(ref)) if int(ref) in self.fake.tickets else None

    @property
    def secrets(self) -> list[str]:
        return self.fake.secrets


class ConnectWiseMatrix(HttpFakeMatrix):
    provider, resolved, escalated = "connectwise", "Closed", "Waiting on escalation"

    def __init__(self, fake: FakeConnectWise) -> None:
        self.fake, self.faults = fake, ConnectWiseFaults(fake)

    def status_id(self, ref: str) -> str:
        return str(self.fake.tickets[int(ref)].status_id)

    def notes(self, ref: str) -> list[Note]:
        ticket = self.fake.tickets.get(int(ref))
        return [Note(str(n.id), n.text) for n in ticket.notes] if ticket else []


class AutotaskMatrix(HttpFakeMatrix):
    provider, resolved, escalated = "autotask", "Complete", "Escalate"
    extra_faults = ("permission_denied",)

    def __init__(self, fake: FakeAutotask) -> None:
        self.fake, self.faults = fake, AutotaskFaults(fake)

    def status_id(self, ref: str) -> str:
        return str(self.fake.tickets[int(ref)].status)

    def notes(self, ref: str) -> list[Note]:
        ticket = self.fake.tickets.get(int(ref))
        return [Note(str(n.id), n.description) for n in ticket.notes] if ticket else []

    def inject_extra(self, fault: str, ref: str) -> None:
        if fault != "permission_denied":
            super().inject_extra(fault, ref)
        # Autotask answers a write the API user may not make with a 500; it stays refused until an admin acts.
        self.fake.deny("post_note", times=10)


class HaloMatrix(HttpFakeMatrix):
    provider, resolved, escalated = "halopsa", "Closed", "Waiting on escalation"
    extra_faults = ("token_expired",)

    def __init__(self, fake: FakeHaloPSA) -> None:
        self.fake, self.faults = fake, HaloFaults(fake)

    def status_id(self, ref: str) -> str:
        return str(self.fake.tickets[int(ref)].status_id)

    def notes(self, ref: str) -> list[Note]:
        ticket = self.fake.tickets.get(int(ref))
        return [Note(str(a.id), a.note) for a in ticket.actions] if ticket else []

    def inject_extra(self, fault: str, ref: str) -> None:
        if fault != "token_expired":
            super().inject_extra(fault, ref)
        self.fake.expire_tokens(after_requests=3)  # the token dies between the note and the status

    def wait_out(self, seconds: float) -> None:
        # A 429 blocks the process's request budget for this Halo instance until its Retry-After has passed.
        config = msgspec.convert(self.config(), Config)
        budget = budget_for(
            f"halopsa:{config.api_url}:{config.client_id}", config.requests_per_window, config.rate_window
        )
        assert isinstance(budget, SlidingWindow), "the matrix runs without Redis: its budgets are the process's"
        budget.clock = lambda: time.monotonic() + seconds


class FakePsaRegistry:
    """Contributes the in-memory FakePSA as the provider ``fakepsa``; each connection's ``api_key`` picks its fake."""

    def __init__(self) -> None:
        self.fakes: dict[str, FakePSA] = {}

    @hookimpl
    def register_psa_providers(self, register: Any) -> None:
        def factory(config: dict[str, Any]) -> FakePSA:
            fake = self.fakes.get(str(config.get("api_key")))
            if fake is None:
                raise ValueError("api_key names no fake")
            return fake

        register("fakepsa", factory)


class FakePsaMatrix(MatrixPSA):
    provider, resolved, escalated = "fakepsa", "Closed", "Waiting on escalation"

    def __init__(self, fake: FakePSA, api_key: str) -> None:
        self.fake, self.faults, self.api_key = fake, FakePSAFaults(fake), api_key
        self._refs = iter(range(100, 10_000))

    def config(self) -> dict[str, Any]:
        return {"api_key": self.api_key}

    def add_ticket(self) -> str:
        ref = f"T-{next(self._refs)}"
        self.fake.add_ticket(ref, "Printer offline", status_id="2")
        return ref

    def status_id(self, ref: str) -> str:
        return self.fake.tickets[ref].status_id

    def status_name(self, ref: str) -> str | None:
        ticket = self.fake.tickets.get(ref)
        return next(s.name for s in ticket.statuses if s.id == ticket.status_id) if ticket else None

    def notes(self, ref: str) -> list[Note]:
        ticket = self.fake.tickets.get(ref)
        return [Note(n.id, n.text) for n in ticket.notes] if ticket else []

    @property
    def secrets(self) -> list[str]:
        return [self.api_key]

    def answered(self, status: int) -> bool | None:
        return None


def psa_opener(registry: FakePsaRegistry) -> dict[str, Callable[[], Any]]:
    """Per provider name, a context manager that starts its fake and yields its :class:`MatrixPSA`."""

    @contextmanager
    def connectwise() -> Iterator[MatrixPSA]:
        with FakeConnectWise(hang_seconds=HANG) as fake:
            yield ConnectWiseMatrix(fake)

    @contextmanager
    def autotask() -> Iterator[MatrixPSA]:
        with FakeAutotask(hang_seconds=HANG) as fake:
            yield AutotaskMatrix(fake)

    @contextmanager
    def halopsa() -> Iterator[MatrixPSA]:
        with FakeHaloPSA(hang_seconds=HANG) as fake:
            yield HaloMatrix(fake)

    @contextmanager
    def fakepsa() -> Iterator[MatrixPSA]:
        key = f"fake-{secrets.token_hex(8)}"
        registry.fakes[key] = FakePSA()
        try:
            yield FakePsaMatrix(registry.fakes[key], key)
        finally:
            del registry.fakes[key]

    return {"connectwise": connectwise, "autotask": autotask, "halopsa": halopsa, "fakepsa": fakepsa}
