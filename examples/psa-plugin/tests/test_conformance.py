"""FlowPilot's PSA conformance kit against the TinyDesk provider and its fake.

Installing FlowPilot makes the kit a pytest plugin (entry point ``pytest11``); all a
vendor writes is the ``psa_target`` fixture and an adapter from the kit's faults to the
fake's. Run: ``pytest tests``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flowpilot_tinydesk import create_provider
from flowpilot_tinydesk.testing import FakeTinyDesk

from flowpilot_core.testing.psa_conformance import ExpectedTicket, PSAContract, PSATarget


class Faults:
    """The kit's fault names, injected into the fake."""

    def __init__(self, fake: FakeTinyDesk) -> None:
        self.fake = fake

    def rate_limit(self, operation: str, retry_after: int) -> None:
        self.fake.rate_limit(operation, retry_after)

    def server_error(self, operation: str, times: int) -> None:
        self.fake.server_error(operation, times)

    def timeout_after_write(self, operation: str) -> None:
        self.fake.timeout_after_write(operation)

    def workflow_overwrite(self, ref: str, status_id: str) -> None:
        self.fake.workflow_sets(int(status_id))

    def revoke_credentials(self) -> None:
        self.fake.revoke()

    def delete_ticket(self, ref: str) -> None:
        self.fake.delete_ticket(ref)


@pytest.fixture
def fake() -> Iterator[FakeTinyDesk]:
    server = FakeTinyDesk()
    yield server
    server.close()


class TestTinyDesk(PSAContract):
    @pytest.fixture
    def psa_target(self, fake: FakeTinyDesk) -> PSATarget:
        ticket = fake.add_ticket("Printer offline", body="Jobs stuck since 9am", customer="Contoso", queue="Support")
        config = {"url": fake.url, "api_key": fake.api_key, "timeout": 1.0}
        return PSATarget(
            connect=lambda: create_provider(config),
            ticket=ExpectedTicket(ref=ticket.ref, summary="Printer offline", company="Contoso", board="Support"),
            secrets=[fake.api_key],
            faults=Faults(fake),
            missing_ref="999999",
        )


def test_a_bad_config_names_the_key_not_the_value() -> None:
    with pytest.raises(ValueError, match="api_key") as raised:
        create_provider({"url": "https://tinydesk.example", "api_key": "short"})
    assert "short" not in str(raised.value)
