"""The PSA conformance kit, run the way a vendor runs it: against the in-memory FakePSA and against the
ConnectWise and HaloPSA providers talking HTTP to their fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flowpilot_connectwise import create_provider
from flowpilot_connectwise.provider import ConnectWiseProvider
from flowpilot_connectwise.testing import ConnectWiseFaults, FakeConnectWise
from flowpilot_halopsa import create_provider as create_halo_provider
from flowpilot_halopsa.provider import HaloPSAProvider
from flowpilot_halopsa.testing import FakeHaloPSA, HaloFaults

from flowpilot_core.testing.fake_psa import FakePSA
from flowpilot_core.testing.psa_conformance import ExpectedTicket, PSAContract, PSATarget


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


@pytest.fixture
def connectwise() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


def connect_to(fake: FakeConnectWise) -> ConnectWiseProvider:
    # A short timeout and retry wait keep the fault contracts quick; the behaviour is the default one.
    provider: ConnectWiseProvider = create_provider(fake.config(timeout=0.3, max_retry_wait=2))
    provider.http.backoff = 0.01
    return provider


class TestConnectWise(PSAContract):
    @pytest.fixture
    def psa_target(self, connectwise: FakeConnectWise) -> PSATarget:
        ticket = connectwise.add_ticket(
            "Printer offline on floor 2", description="Nobody on floor 2 can print since 9:00", contact="Dana Lee"
        )
        return PSATarget(
            connect=lambda: connect_to(connectwise),
            ticket=ExpectedTicket(
                ref=str(ticket.id),
                summary="Printer offline on floor 2",
                description="Nobody on floor 2 can print since 9:00",
                company="Contoso",
                contact="Dana Lee",
                board="Service Desk",
            ),
            secrets=connectwise.secrets,
            faults=ConnectWiseFaults(connectwise),
        )


@pytest.fixture
def halopsa() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(hang_seconds=1.0) as fake:
        yield fake


def connect_to_halo(fake: FakeHaloPSA) -> HaloPSAProvider:
    # A short timeout and retry wait keep the fault contracts quick; the behaviour is the default one.
    provider: HaloPSAProvider = create_halo_provider(fake.config(timeout=0.3, max_retry_wait=2))
    provider.http.backoff = 0.01
    return provider


class TestHaloPSA(PSAContract):
    @pytest.fixture
    def psa_target(self, halopsa: FakeHaloPSA) -> PSATarget:
        ticket = halopsa.add_ticket(
            "Printer offline on floor 2", details="Nobody on floor 2 can print since 9:00", user_name="Dana Lee"
        )
        return PSATarget(
            connect=lambda: connect_to_halo(halopsa),
            ticket=ExpectedTicket(
                ref=str(ticket.id),
                summary="Printer offline on floor 2",
                description="Nobody on floor 2 can print since 9:00",
                company="Contoso",
                contact="Dana Lee",
                board="Service Desk",
            ),
            secrets=halopsa.secrets,  # grows with every token the fake issues
            faults=HaloFaults(halopsa),
        )
