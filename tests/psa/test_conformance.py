"""The PSA conformance kit, run the way a vendor runs it: against the in-memory FakePSA, against the
ConnectWise, HaloPSA and Autotask providers talking HTTP to their fakes, and against the built-in ``local`` provider
on the test database (as the application role, under RLS)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flowpilot_autotask import create_provider as create_autotask_provider
from flowpilot_autotask.testing import AutotaskFaults, FakeAutotask
from flowpilot_connectwise import create_provider
from flowpilot_connectwise.testing import ConnectWiseFaults, FakeConnectWise
from flowpilot_halopsa import create_provider as create_halo_provider
from flowpilot_halopsa.testing import FakeHaloPSA, HaloFaults
from sqlalchemy.pool import NullPool

from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker
from flowpilot_core.psa import local
from flowpilot_core.psa.provider import PsaContext, PSAProvider
from flowpilot_core.testing.fake_psa import FakePSA
from flowpilot_core.testing.psa_conformance import ExpectedTicket, FaultUnsupported, PSAContract, PSATarget
from tests.conftest import Tenant
from tests.pg import run_sync


class FakePSAFaults:
    """The kit's fault adapter for FakePSA, whose faults are named after the provider's methods."""

    def __init__(self, fake: FakePSA) -> None:
        self.fake = fake

    def rate_limit(self, operation: str, retry_after: int) -> None:
        self.fake.rate_limit(operation, retry_after)

    def server_error(self, operation: str, times: int) -> None:
        for _ in range(times):
            self.fake.fail(operation)

    def timeout_after_write(self, operation: str) -> None:
        self.fake.timeout_after_write(operation)

    def workflow_overwrite(self, ref: str, status_id: str) -> None:
        self.fake.workflow_sets(status_id)

    def revoke_credentials(self) -> None:
        self.fake.revoke()

    def delete_ticket(self, ref: str) -> None:
        self.fake.delete_ticket(ref)


class TestFakePSA(PSAContract):
    @pytest.fixture
    def psa_target(self) -> PSATarget:
        fake = FakePSA()
        fake.add_ticket("T-100", "Printing down")
        return PSATarget(
            connect=lambda: fake,
            ticket=ExpectedTicket(ref="T-100", summary="Printing down"),
            faults=FakePSAFaults(fake),
            missing_ref="T-404",
        )


PRINTER = "Printer offline on floor 2"
PRINTER_DESCRIPTION = "Nobody on floor 2 can print since 9:00"


def quick(provider: Any) -> Any:
    """A short timeout and retry wait keep the fault contracts quick; the behaviour is the default one."""
    provider.http.backoff = 0.01
    return provider


def quick_config(fake: Any) -> dict[str, Any]:
    return dict(fake.config(timeout=0.3, max_retry_wait=2))


def http_target(fake: Any, ticket_id: int, connect: Callable[[], PSAProvider], faults: Any) -> PSATarget:
    """The printer ticket every HTTP fake holds, as the contracts expect it mapped."""
    return PSATarget(
        connect=connect,
        ticket=ExpectedTicket(
            ref=str(ticket_id),
            summary=PRINTER,
            description=PRINTER_DESCRIPTION,
            company="Contoso",
            contact="Dana Lee",
            board="Service Desk",
        ),
        secrets=fake.secrets,  # Halo's grows with every token the fake issues
        faults=faults,
    )


@pytest.fixture
def connectwise() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


class TestConnectWise(PSAContract):
    @pytest.fixture
    def psa_target(self, connectwise: FakeConnectWise) -> PSATarget:
        ticket = connectwise.add_ticket(PRINTER, description=PRINTER_DESCRIPTION, contact="Dana Lee")
        connect = lambda: quick(create_provider(quick_config(connectwise)))  # noqa: E731
        return http_target(connectwise, ticket.id, connect, ConnectWiseFaults(connectwise))


@pytest.fixture
def halopsa() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(hang_seconds=1.0) as fake:
        yield fake


class TestHaloPSA(PSAContract):
    @pytest.fixture
    def psa_target(self, halopsa: FakeHaloPSA) -> PSATarget:
        ticket = halopsa.add_ticket(PRINTER, details=PRINTER_DESCRIPTION, user_name="Dana Lee")
        connect = lambda: quick(create_halo_provider(quick_config(halopsa)))  # noqa: E731
        return http_target(halopsa, ticket.id, connect, HaloFaults(halopsa))


@pytest.fixture
def autotask() -> Iterator[FakeAutotask]:
    with FakeAutotask(hang_seconds=1.0) as fake:
        yield fake


class TestAutotask(PSAContract):
    @pytest.fixture
    def psa_target(self, autotask: FakeAutotask) -> PSATarget:
        ticket = autotask.add_ticket(PRINTER, description=PRINTER_DESCRIPTION, contact="Dana Lee")
        connect = lambda: quick(create_autotask_provider(quick_config(autotask)))  # noqa: E731
        return http_target(autotask, ticket.id, connect, AutotaskFaults(autotask))


def local_context(db_urls: DatabaseUrls, account_id: uuid.UUID) -> PsaContext:
    """A context on the calling event loop (the kit runs each contract on a loop of its own)."""
    return PsaContext(
        account_id=account_id, sessionmaker=make_sessionmaker(create_engine(db_urls.app, poolclass=NullPool))
    )


class LocalFaults:
    """What can go wrong with FlowPilot's own record: its ticket can be deleted; the rest has no counterpart."""

    def __init__(self, db_urls: DatabaseUrls, account_id: uuid.UUID) -> None:
        self.db_urls, self.account_id = db_urls, account_id

    def rate_limit(self, operation: str, retry_after: int) -> None:
        raise FaultUnsupported("FlowPilot's own record is not rate-limited: there is no remote API")

    def server_error(self, operation: str, times: int) -> None:
        raise FaultUnsupported("there is no remote server; a database that cannot be reached is the API's 503")

    def timeout_after_write(self, operation: str) -> None:
        raise FaultUnsupported(
            "a write to FlowPilot's own record has no answer to lose (a crash after it is the kill -9 test)"
        )

    def workflow_overwrite(self, ref: str, status_id: str) -> None:
        raise FaultUnsupported("FlowPilot's local tickets have no workflow rules")

    def revoke_credentials(self) -> None:
        raise FaultUnsupported("the local provider has no credentials")

    def delete_ticket(self, ref: str) -> None:
        run_sync(lambda: local.delete_ticket(local_context(self.db_urls, self.account_id), ref))


class TestLocal(PSAContract):
    @pytest.fixture
    def psa_target(self, db_urls: DatabaseUrls, tenant: Tenant, other_tenant: Tenant) -> PSATarget:
        def add(account: Tenant, summary: str) -> str:
            context = local_context(db_urls, account.account_id)
            return run_sync(lambda: local.add_ticket(context, summary, description="Floor 2 cannot print"))

        ref = add(tenant, "Printer offline")
        return PSATarget(
            connect=lambda: local.create_provider({}, context=local_context(db_urls, tenant.account_id)),
            ticket=ExpectedTicket(ref=ref, summary="Printer offline", description="Floor 2 cannot print"),
            faults=LocalFaults(db_urls, tenant.account_id),
            missing_ref=add(other_tenant, "Another MSP's ticket"),  # it exists, but RLS hides it from this account
        )
