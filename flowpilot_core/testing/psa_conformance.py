"""The PSA conformance kit: the contract a PSA plugin must keep, as pytest tests.

A pytest plugin (entry point ``pytest11``: ``flowpilot_psa_conformance``), so installing
FlowPilot makes its fixtures available everywhere. A vendor runs the contracts against
their provider with one fixture::

    from flowpilot_core.testing.psa_conformance import ExpectedTicket, PSAContract, PSATarget

    class TestAcmePSA(PSAContract):
        @pytest.fixture
        def psa_target(self, acme_fake):
            ticket = acme_fake.add_ticket("Printer offline")
            return PSATarget(
                connect=lambda: AcmeProvider(acme_fake.url, api_key="k-123"),
                ticket=ExpectedTicket(ref=ticket.ref, summary="Printer offline"),
                secrets=["k-123"],
                faults=AcmeFaults(acme_fake),   # optional: contracts needing a fault skip without it
            )

What the contracts check (each a method of :class:`PSAContract`):

- the ticket maps to :class:`~flowpilot_core.psa.PSATicket` (ref, summary, a status the
  ticket can take, and the description, company, contact or board the target expects);
- a missing or deleted ticket is :class:`~flowpilot_core.psa.PSANotFound` naming the ref;
- a note is posted once, internal, and listed with the id ``post_note`` returned; under
  a timeout after the write, a rate limit or a server error, the writeback's retry (look
  for the marker, post only if it is missing) leaves exactly one note;
- a status is set and reads back (``get_status`` and ``get_ticket``); an id the ticket
  cannot take is :class:`~flowpilot_core.psa.PSAPermanent` and changes nothing; a workflow
  rule that overwrites the status is what ``get_status`` reports;
- failures map to the PSA error tree: 429 → ``PSARateLimited`` with its ``retry_after``,
  a failing server → ``PSATransient`` (retryable), revoked credentials → ``PSAAuthFailed``
  (not retryable);
- no credential appears in an error's message, repr or cause chain, in the provider's
  repr, or in any log line (every logger, DEBUG and up) while the contracts run.

Contracts are plain (synchronous) tests that run the provider on an event loop of their
own, so the kit needs no async pytest plugin. A contract that needs a fault the target's
adapter cannot inject is skipped, saying which fault and why.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import pytest

from flowpilot_core.psa.errors import PSAAuthFailed, PSAError, PSANotFound, PSAPermanent, PSARateLimited, PSATransient
from flowpilot_core.psa.provider import PSANote, PSAProvider, PSAStatus

T = TypeVar("T")
Operation = Literal["get_ticket", "list_notes", "post_note", "list_statuses", "set_status", "get_status"]
"""A :class:`~flowpilot_core.psa.PSAProvider` method a fault is injected into (its next call)."""


class FaultUnsupported(Exception):
    """Raised by a :class:`PSAFaults` method for a fault the target cannot inject; the contract is skipped with it."""


class PSAFaults(Protocol):
    """What a fake (or a sandbox harness) can make go wrong; each fault fires on the next call named."""

    def rate_limit(self, operation: Operation, retry_after: int) -> None:
        """The next ``operation`` is refused with a 429 and ``Retry-After: retry_after`` (applied: nothing)."""

    def server_error(self, operation: Operation, times: int) -> None:
        """The next ``times`` requests ``operation`` makes fail with a 5xx (applied: nothing)."""

    def timeout_after_write(self, operation: Literal["post_note", "set_status"]) -> None:
        """The next ``operation`` is applied, then its answer never arrives in time."""

    def workflow_overwrite(self, ref: str, status_id: str) -> None:
        """A workflow rule moves the ticket to ``status_id`` right after any status change."""

    def revoke_credentials(self) -> None:
        """The connection's credentials stop working."""

    def delete_ticket(self, ref: str) -> None:
        """The ticket is deleted in the PSA."""


@dataclass(frozen=True)
class ExpectedTicket:
    """A ticket the contracts may write notes and statuses to, and what ``get_ticket`` must say about it.

    ``None`` fields are not checked. The ticket must be able to take at least two statuses.
    """

    ref: str
    summary: str
    description: str | None = None
    company: str | None = None
    contact: str | None = None
    board: str | None = None


@dataclass
class PSATarget:
    """Everything the kit needs from a vendor: the one fixture ``psa_target`` returns it."""

    connect: Callable[[], PSAProvider]
    """A new provider connected to the fake or sandbox (called on the contract's event loop, closed after it)."""
    ticket: ExpectedTicket
    secrets: Sequence[str] = ()
    """The credentials the provider sends; none may leak. Empty: the leak contract is skipped."""
    faults: PSAFaults | None = None
    missing_ref: str = "987654321"
    """A ticket ref in the PSA's format that does not exist."""


# -- fixtures (a vendor overrides psa_target; the others follow from it) -------------------------


@pytest.fixture
def psa_target() -> PSATarget:
    """Override this fixture: return the :class:`PSATarget` the contracts run against."""
    raise pytest.UsageError(
        "the PSA conformance contracts need a `psa_target` fixture returning "
        "flowpilot_core.testing.psa_conformance.PSATarget (docs/plugins.md, 'Testing a PSA plugin')"
    )


@pytest.fixture
def psa_provider(psa_target: PSATarget) -> Callable[[], PSAProvider]:
    """A factory of providers connected to the target."""
    return psa_target.connect


@pytest.fixture
def psa_ticket(psa_target: PSATarget) -> ExpectedTicket:
    return psa_target.ticket


@pytest.fixture
def psa_faults(psa_target: PSATarget) -> PSAFaults | None:
    return psa_target.faults


@pytest.fixture
def psa_secrets(psa_target: PSATarget) -> Sequence[str]:
    return psa_target.secrets


@pytest.fixture
def psa_missing_ref(psa_target: PSATarget) -> str:
    return psa_target.missing_ref


# -- helpers --------------------------------------------------------------------------------------


def run(connect: Callable[[], PSAProvider], body: Callable[[PSAProvider], Awaitable[T]]) -> T:
    """``body(provider)`` on a fresh event loop of its own (the current one, if any, is left alone)."""

    async def main() -> T:
        provider = connect()
        try:
            return await body(provider)
        finally:
            await provider.aclose()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def inject(faults: PSAFaults | None, fault: str, *args: Any) -> None:
    """Inject ``fault``, or skip the contract saying why it cannot be."""
    if faults is None:
        pytest.skip(f"the target has no fault adapter (psa_faults), so {fault!r} cannot be injected")
    try:
        getattr(faults, fault)(*args)
    except FaultUnsupported as exc:
        pytest.skip(f"the target cannot inject {fault!r}: {exc}")


async def _raises(call: Awaitable[Any], expected: type[PSAError]) -> PSAError:
    try:
        await call
    except PSAError as exc:
        assert isinstance(exc, expected), f"expected {expected.__name__}, got {type(exc).__name__}: {exc.detail}"
        return exc
    raise AssertionError(f"expected {expected.__name__}, but the call succeeded")


def _other_status(statuses: list[PSAStatus], current: PSAStatus) -> PSAStatus:
    """A status the ticket is not in, a closing one if there is one (what a resolution asks for)."""
    others = [s for s in statuses if s.id != current.id]
    assert others, f"the ticket must be able to take a second status (it can take only {current.name!r})"
    return next((s for s in others if s.closed), others[0])


def _marked(notes: list[PSANote], marker: str) -> list[PSANote]:
    return [n for n in notes if marker in n.text]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _assert_no_secret(text: str, secrets: Sequence[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a credential appears in {where}"


# -- the contracts --------------------------------------------------------------------------------


class PSAContract:
    """The contract tests. Subclass it as ``Test<YourPSA>`` in a test module and provide ``psa_target``."""

    def test_the_ticket_maps_to_a_psa_ticket(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            ticket = await provider.get_ticket(psa_ticket.ref)
            statuses = await provider.list_statuses(psa_ticket.ref)
            assert (ticket.ref, ticket.summary) == (psa_ticket.ref, psa_ticket.summary)
            assert ticket.status is not None and ticket.status.id in {s.id for s in statuses}
            assert ticket.status == await provider.get_status(psa_ticket.ref)
            for name in ("description", "company", "contact", "board"):
                wanted = getattr(psa_ticket, name)
                if wanted is not None:
                    assert getattr(ticket, name) == wanted, f"PSATicket.{name}"

        run(psa_provider, body)

    def test_a_missing_ticket_is_not_found_naming_it(
        self, psa_provider: Callable[[], PSAProvider], psa_missing_ref: str
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            for call in (
                lambda: provider.get_ticket(psa_missing_ref),
                lambda: provider.list_notes(psa_missing_ref),
                lambda: provider.post_note(psa_missing_ref, "FlowPilot conformance", kind="internal", internal=True),
            ):
                error = await _raises(call(), PSANotFound)
                assert psa_missing_ref in error.detail and error.retryable is False

        run(psa_provider, body)

    @pytest.mark.parametrize("kind", ["internal", "resolution", "escalation"])
    def test_a_note_is_posted_once_internal_and_listed(
        self,
        psa_provider: Callable[[], PSAProvider],
        psa_ticket: ExpectedTicket,
        kind: Literal["internal", "resolution", "escalation"],
    ) -> None:
        marker = f"[FlowPilot conformance {uuid.uuid4()}]"
        text = f"## Resolution\nRestarted the print spooler.\n\n{marker}"

        async def body(provider: PSAProvider) -> None:
            before = await provider.list_notes(psa_ticket.ref)
            note = await provider.post_note(psa_ticket.ref, text, kind=kind, internal=True)
            after = await provider.list_notes(psa_ticket.ref)
            (listed,) = _marked(after, marker)
            assert listed.id == note.id and listed.internal and note.internal
            assert listed.text.strip() == text.strip()
            assert len(after) == len(before) + 1

        run(psa_provider, body)

    @pytest.mark.parametrize("fault", ["timeout_after_write", "rate_limit", "server_error"])
    def test_a_note_is_posted_once_under_faults_and_the_writeback_retry(
        self,
        psa_provider: Callable[[], PSAProvider],
        psa_ticket: ExpectedTicket,
        psa_faults: PSAFaults | None,
        fault: str,
    ) -> None:
        marker = f"[FlowPilot conformance {uuid.uuid4()}]"
        text = f"Escalated to the network team.\n\n{marker}"
        args: dict[str, tuple[Any, ...]] = {
            "timeout_after_write": ("post_note",), "rate_limit": ("post_note", 1), "server_error": ("post_note", 1),
        }  # fmt: skip
        inject(psa_faults, fault, *args[fault])

        async def body(provider: PSAProvider) -> None:
            try:
                await provider.post_note(psa_ticket.ref, text, kind="escalation", internal=True)
            except PSAError as exc:
                assert isinstance(exc, PSATransient) and exc.retryable, (
                    f"a {fault} must be retryable (PSATransient), not {type(exc).__name__}"
                )
            # What the writeback does on the technician's retry: look for the marker, post only if it is missing.
            if not _marked(await provider.list_notes(psa_ticket.ref), marker):
                await provider.post_note(psa_ticket.ref, text, kind="escalation", internal=True)
            assert len(_marked(await provider.list_notes(psa_ticket.ref), marker)) == 1

        run(psa_provider, body)

    def test_a_status_is_set_and_reads_back(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            target = _other_status(
                await provider.list_statuses(psa_ticket.ref), await provider.get_status(psa_ticket.ref)
            )
            await provider.set_status(psa_ticket.ref, target.id)
            assert (await provider.get_status(psa_ticket.ref)).id == target.id
            ticket = await provider.get_ticket(psa_ticket.ref)
            assert ticket.status is not None and ticket.status.id == target.id

        run(psa_provider, body)

    def test_a_status_the_ticket_cannot_take_is_refused_and_changes_nothing(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            before = await provider.get_status(psa_ticket.ref)
            unknown = str(10**9 + 7)
            assert unknown not in {s.id for s in await provider.list_statuses(psa_ticket.ref)}
            error = await _raises(provider.set_status(psa_ticket.ref, unknown), PSAPermanent)
            assert error.retryable is False
            assert (await provider.get_status(psa_ticket.ref)).id == before.id

        run(psa_provider, body)

    def test_a_status_a_workflow_rule_overwrites_reads_back_as_overwritten(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        async def statuses(provider: PSAProvider) -> tuple[PSAStatus, PSAStatus]:
            current = await provider.get_status(psa_ticket.ref)
            return current, _other_status(await provider.list_statuses(psa_ticket.ref), current)

        current, target = run(psa_provider, statuses)
        inject(psa_faults, "workflow_overwrite", psa_ticket.ref, current.id)

        async def body(provider: PSAProvider) -> None:
            await provider.set_status(psa_ticket.ref, target.id)
            assert (await provider.get_status(psa_ticket.ref)).id == current.id, (
                "get_status must read the PSA, not repeat what was asked for"
            )

        run(psa_provider, body)

    def test_a_status_change_whose_answer_is_lost_reads_back_as_applied(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        inject(psa_faults, "timeout_after_write", "set_status")

        async def body(provider: PSAProvider) -> None:
            target = _other_status(
                await provider.list_statuses(psa_ticket.ref), await provider.get_status(psa_ticket.ref)
            )
            try:
                await provider.set_status(psa_ticket.ref, target.id)
            except PSAError as exc:
                assert isinstance(exc, PSATransient) and exc.retryable
            assert (await provider.get_status(psa_ticket.ref)).id == target.id

        run(psa_provider, body)

    def test_a_long_rate_limit_is_rate_limited_with_its_retry_after(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        inject(psa_faults, "rate_limit", "get_ticket", 120)

        async def body(provider: PSAProvider) -> None:
            error = await _raises(provider.get_ticket(psa_ticket.ref), PSARateLimited)
            assert error.retryable is True and error.retry_after == 120

        run(psa_provider, body)

    def test_a_failing_server_is_transient(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        inject(psa_faults, "server_error", "get_ticket", 10)

        async def body(provider: PSAProvider) -> None:
            error = await _raises(provider.get_ticket(psa_ticket.ref), PSATransient)
            assert error.retryable is True and not isinstance(error, PSARateLimited)

        run(psa_provider, body)

    def test_revoked_credentials_are_an_authentication_failure(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            await provider.check_connection()
            await provider.get_ticket(psa_ticket.ref)
            inject(psa_faults, "revoke_credentials")  # mid-session: the same provider, already used
            for call in (lambda: provider.get_ticket(psa_ticket.ref), provider.check_connection):
                error = await _raises(call(), PSAAuthFailed)
                assert error.retryable is False

        run(psa_provider, body)

    def test_a_deleted_ticket_is_not_found(
        self, psa_provider: Callable[[], PSAProvider], psa_ticket: ExpectedTicket, psa_faults: PSAFaults | None
    ) -> None:
        async def body(provider: PSAProvider) -> None:
            await provider.get_ticket(psa_ticket.ref)
            inject(psa_faults, "delete_ticket", psa_ticket.ref)
            for call in (
                lambda: provider.get_ticket(psa_ticket.ref),
                lambda: provider.post_note(psa_ticket.ref, "FlowPilot conformance", kind="internal", internal=True),
                lambda: provider.get_status(psa_ticket.ref),
            ):
                error = await _raises(call(), PSANotFound)
                assert psa_ticket.ref in error.detail

        run(psa_provider, body)

    def test_credentials_never_appear_in_errors_or_logs(
        self,
        psa_provider: Callable[[], PSAProvider],
        psa_ticket: ExpectedTicket,
        psa_faults: PSAFaults | None,
        psa_secrets: Sequence[str],
        psa_missing_ref: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        if not psa_secrets:
            pytest.skip("the target names no credentials (PSATarget.secrets) to look for")
        caplog.set_level(logging.DEBUG)
        errors: list[PSAError] = []
        reprs: list[str] = []

        async def attempt(call: Awaitable[Any]) -> None:
            try:
                await call
            except PSAError as exc:
                errors.append(exc)

        async def body(provider: PSAProvider) -> None:
            reprs.append(repr(provider))
            await provider.get_ticket(psa_ticket.ref)
            await provider.post_note(psa_ticket.ref, "FlowPilot conformance", kind="internal", internal=True)
            await attempt(provider.get_ticket(psa_missing_ref))
            await attempt(provider.set_status(psa_ticket.ref, str(10**9 + 7)))
            if psa_faults is not None:
                for fault, args in (("rate_limit", ("get_ticket", 120)), ("server_error", ("get_ticket", 10))):
                    try:
                        getattr(psa_faults, fault)(*args)
                    except FaultUnsupported:
                        continue
                    await attempt(provider.get_ticket(psa_ticket.ref))
                try:
                    psa_faults.revoke_credentials()
                except FaultUnsupported:
                    pass
                else:
                    await attempt(provider.get_ticket(psa_ticket.ref))

        run(psa_provider, body)
        assert errors, "no failure was provoked, so nothing was checked"
        for error in errors:
            for link in _chain(error):
                _assert_no_secret(f"{link!s} {link!r} {link.args!r}", psa_secrets, f"a {type(link).__name__}")
            _assert_no_secret(error.detail, psa_secrets, f"the detail of a {type(error).__name__}")
        for text in reprs:
            _assert_no_secret(text, psa_secrets, "the provider's repr")
        for record in caplog.records:
            _assert_no_secret(record.getMessage(), psa_secrets, f"a log line of {record.name}")
