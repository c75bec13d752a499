"""The PSA conformance kit, run the way a vendor runs it, against the Autotask provider talking HTTP to its fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flowpilot_autotask import create_provider
from flowpilot_autotask.provider import AutotaskProvider
from flowpilot_autotask.testing import AutotaskFaults, FakeAutotask

from flowpilot_core.testing.psa_conformance import ExpectedTicket, PSAContract, PSATarget


@pytest.fixture
def autotask() -> Iterator[FakeAutotask]:
    with FakeAutotask(hang_seconds=1.0) as fake:
        yield fake


def connect_to(fake: FakeAutotask) -> AutotaskProvider:
    # A short timeout and retry wait keep the fault contracts quick; the behaviour is the default one.
    provider: AutotaskProvider = create_provider(fake.config(timeout=0.3, max_retry_wait=2))
    provider.http.backoff = 0.01
    return provider


class TestAutotask(PSAContract):
    @pytest.fixture
    def psa_target(self, autotask: FakeAutotask) -> PSATarget:
        ticket = autotask.add_ticket(
            "Printer offline on floor 2", description="Nobody on floor 2 can print since 9:00", contact="Dana Lee"
        )
        return PSATarget(
            connect=lambda: connect_to(autotask),
            ticket=ExpectedTicket(
                ref=str(ticket.id),
                summary="Printer offline on floor 2",
                description="Nobody on floor 2 can print since 9:00",
                company="Contoso",
                contact="Dana Lee",
                board="Service Desk",
            ),
            secrets=autotask.secrets,
            faults=AutotaskFaults(autotask),
        )
