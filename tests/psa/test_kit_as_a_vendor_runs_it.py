"""The conformance kit from outside FlowPilot's suite: found through the pytest11 entry point alone, and
failing providers that break the contract (a kit that cannot fail would prove nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

VENDOR = textwrap.dedent(
    """
    import pytest

    from flowpilot_core.psa.errors import PSANotFound
    from flowpilot_core.testing.fake_psa import FakePSA
    from flowpilot_core.testing.psa_conformance import ExpectedTicket, PSAContract, PSATarget


    class Faults:
        def __init__(self, fake):
            self.fake = fake

        def rate_limit(self, operation, retry_after):
            self.fake.rate_limit(operation, retry_after)

        def server_error(self, operation, times):
            for _ in range(times):
                self.fake.fail(operation)

        def timeout_after_write(self, operation):
            self.fake.timeout_after_write(operation)

        def workflow_overwrite(self, ref, status_id):
            self.fake.workflow_sets(status_id)

        def revoke_credentials(self):
            self.fake.revoke()

        def delete_ticket(self, ref):
            self.fake.delete_ticket(ref)


    class EchoesStatus(FakePSA):
        "Reports the status it was asked for instead of reading it."

        async def set_status(self, ref, status_id):
            await super().set_status(ref, status_id)
            self.asked = status_id

        async def get_status(self, ref):
            status = await super().get_status(ref)
            asked = getattr(self, "asked", None)
            return next(s for s in self.tickets[ref].statuses if s.id == asked) if asked else status


    class LeaksItsKey(FakePSA):
        "Puts its API key into a not-found error."

        async def get_ticket(self, ref):
            if ref not in self.tickets:
                raise PSANotFound(f"ticket {ref} not found (api_key=k-secret-123)")
            return await super().get_ticket(ref)


    def target(fake):
        fake.add_ticket("T-1", "Printing down")
        return PSATarget(connect=lambda: fake, ticket=ExpectedTicket("T-1", "Printing down"),
                         secrets=["k-secret-123"], faults=Faults(fake), missing_ref="T-404")


    class TestKeepsTheContract(PSAContract):
        @pytest.fixture
        def psa_target(self):
            return target(FakePSA())


    class TestEchoesStatus(PSAContract):
        @pytest.fixture
        def psa_target(self):
            return target(EchoesStatus())


    class TestLeaksItsKey(PSAContract):
        @pytest.fixture
        def psa_target(self):
            return target(LeaksItsKey())


    class TestForgotTheTarget(PSAContract):
        pass
    """
)


def test_a_vendor_runs_the_kit_with_one_fixture_and_it_fails_providers_that_break_the_contract(tmp_path: Path) -> None:
    (tmp_path / "test_vendor.py").write_text(VENDOR)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:asyncio", "test_vendor.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 1, out + run.stderr

    def outcomes(cls: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in out.splitlines():
            word, _, rest = line.partition(" ")
            if word in ("PASSED", "FAILED", "ERROR", "SKIPPED") and f"::{cls}::" in rest:
                found[rest.split("::")[2].split(" ")[0]] = word
        return found

    keeps = outcomes("TestKeepsTheContract")
    assert len(keeps) == 17 and set(keeps.values()) == {"PASSED"}, keeps
    echoes = outcomes("TestEchoesStatus")
    assert {t for t, o in echoes.items() if o == "FAILED"} == {
        "test_a_status_a_workflow_rule_overwrites_reads_back_as_overwritten"
    }, echoes
    leaks = outcomes("TestLeaksItsKey")
    assert {t for t, o in leaks.items() if o == "FAILED"} == {"test_credentials_never_appear_in_errors_or_logs"}, leaks
    forgot = outcomes("TestForgotTheTarget")
    assert forgot and set(forgot.values()) == {"ERROR"}
    assert "need a `psa_target` fixture" in out
