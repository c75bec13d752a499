"""The fault matrix: PSA by fault → outcome, end to end through Confirm & post.

Every row opens a session on a ticket of one PSA's fake (ConnectWise, Autotask and HaloPSA over
real HTTP, and the in-memory FakePSA; FlowPilot reads the ticket through the connection), injects
one fault, and posts the resolution note (or the escalation package) through the API on real
PostgreSQL. Where the post fails, the technician presses what the note preview offers then ("Try
again" / "Retry status": the same request with the same idempotency key), once, after the
Retry-After the answer names. The row ends in one of two outcomes:

- **posted**: the note is on the ticket exactly once, the API's ``external_note_id`` is that note,
  the ticket's status in the fake is the mapped one, and the session is resolved (or escalated);
- **failed**: the last answer is a problem naming what failed, the session is still open, and the
  note is on the ticket only if the problem says so (the partial result's ``external_note_id``).

In every row, whatever the outcome: never two notes with FlowPilot's marker, never a 200 while the
fake's ticket says otherwise, and no credential in any answer. The rows are ``ROWS``; what each must
end with is :func:`expected`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.plugins.support import client_for, manager_with
from tests.psa.matrix_support import (
    GENERIC_FAULTS,
    LONG_RETRY_AFTER,
    TIMEOUT,
    FakePsaRegistry,
    MatrixPSA,
    psa_opener,
)

Client = AsyncTestClient[Litestar]
PSAS = ("connectwise", "autotask", "halopsa", "fakepsa")
EXTRA_FAULTS = {"halopsa": ("token_expired",), "autotask": ("permission_denied",)}
ESCALATED_TOO = ("none", "timeout_after_note", "workflow_overwrite")
"""Faults also run through the escalation twin (``.../escalation-package/post``)."""
FIRED_BY = {"rate_limit_short": 429, "rate_limit_long": 429, "server_error_once": 503, "token_expired": 401,
            "permission_denied": 500}  # fmt: skip
"""The answer an HTTP fake gives when the fault fires."""


@dataclass(frozen=True)
class Posted:
    """Posted once and verified; ``retried``: only after the technician's retry, the first answer a retryable
    problem whose detail contains ``first_names``."""

    retried: bool = False
    first_names: str = ""


@dataclass(frozen=True)
class Failed:
    """A visible failure: the last answer's HTTP status, words its detail must contain (``{ref}``: the ticket),
    whether the first answer said retryable, and whether the note is on the ticket (a partial result)."""

    status: int
    names: str
    retryable: bool
    note_posted: bool = False


Outcome = Posted | Failed


def expected(psa: str, fault: str, wanted: str) -> Outcome:
    """What a resolve under ``fault`` must end with on ``psa`` (``wanted``: the status the connection maps to)."""
    in_process = psa == "fakepsa"  # FakePSA raises where an HTTP provider waits or re-reads inside the call
    table: dict[str, Outcome] = {
        "none": Posted(),
        # A Retry-After within max_retry_wait is waited out inside the call; FakePSA reports every 429.
        "rate_limit_short": Posted(retried=True, first_names="HTTP 429") if in_process else Posted(),
        # A long one is a retryable 503 with Retry-After; nothing was posted, so the retry posts once.
        "rate_limit_long": Posted(retried=True, first_names="HTTP 429"),
        # A note's POST is never repeated blindly: a 5xx on it is reported retryable, the retry posts once.
        "server_error_once": Posted(retried=True, first_names="HTTP 503"),
        # The note is stored, its answer lost: the HTTP providers find it by its marker before answering;
        # FakePSA reports the timeout and the retry finds the marker instead of posting again.
        "timeout_after_note": Posted(retried=True, first_names="did not answer in time") if in_process else Posted(),
        # The status is set, its answer lost: a PATCH/POST of a value is safe to repeat; FakePSA's lost answer
        # leaves the status unverified, and "Retry status" reads it back.
        "timeout_after_status": Posted(retried=True, first_names="could not be read back") if in_process else Posted(),
        # The rule stays: the note is on the ticket once, the status is reported, and "Retry status" reports it again.
        "workflow_overwrite": Failed(502, f"the ticket still shows 'In Progress', not {wanted!r}", True, True),
        "credentials_revoked": Failed(502, "HTTP 401", False),
        "ticket_deleted": Failed(502, "ticket {ref} does not exist", False),
        "token_expired": Posted(),  # Halo: the provider fetches a new token and carries on
        "permission_denied": Failed(502, "for lack of permission (HTTP 500", False),  # Autotask's 500
    }
    return table[fault]


@dataclass(frozen=True)
class Row:
    psa: str
    fault: str
    kind: str  # "resolution" or "escalation"

    @property
    def id(self) -> str:
        return f"{self.psa}-{self.fault}" + ("-escalation" if self.kind == "escalation" else "")

    @property
    def path(self) -> str:
        return "resolution-note" if self.kind == "resolution" else "escalation-package"


ROWS = [
    Row(psa, fault, kind)
    for psa in PSAS
    for fault in (*GENERIC_FAULTS, *EXTRA_FAULTS.get(psa, ()))
    for kind in (("resolution", "escalation") if fault in ESCALATED_TOO else ("resolution",))
]


@pytest.fixture(scope="module")
def registry() -> FakePsaRegistry:
    return FakePsaRegistry()


@pytest.fixture(scope="module")
async def client(settings: Settings, db_urls: DatabaseUrls, registry: FakePsaRegistry) -> AsyncIterator[Client]:
    """One server for the whole table (built-in plugins plus FakePSA); each row has its own tenant and fake."""
    async with client_for(settings, db_urls, manager_with(("matrix-fakepsa", registry))) as test_client:
        test_client.app.state.runtime.writeback.verify_delay = 0.01
        yield test_client


@pytest.fixture(scope="module")
def open_psa(registry: FakePsaRegistry) -> dict[str, Callable[[], Any]]:
    return psa_opener(registry)


async def _connect(client: Client, tenant: Tenant, psa: MatrixPSA) -> str:
    body = {
        "provider": psa.provider,
        "name": psa.provider,
        "config": psa.config(),
        "statuses": {"resolved": psa.resolved, "escalated": psa.escalated},
    }
    made = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _session(client: Client, tenant: Tenant, connection_id: str, ref: str) -> dict[str, Any]:
    """A session opened on the ticket: FlowPilot reads it through the connection (before any fault)."""
    body = {"problem_statement": "Printing is down", "ticket_ref": ref, "psa_connection": connection_id}
    created = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    assert created.json()["ticket_ref"] == ref and created.json()["psa_connection_id"] == connection_id
    return dict(created.json())


async def _confirm(client: Client, tenant: Tenant, session: dict[str, Any], path: str) -> Any:
    return await client.post(
        f"/api/v1/ai-sessions/{session['id']}/{path}/post",
        json={"markdown": "## Fix\nRestarted the spooler.\n", "state_version": session["state_version"],
              "idempotency_key": f"matrix-{session['id']}"},
        headers=tenant.headers(),
    )  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_a_confirmed_note_is_posted_once_and_verified_or_the_failure_says_what_failed(
    client: Client, tenant: Tenant, open_psa: dict[str, Callable[[], Any]], row: Row
) -> None:
    with open_psa[row.psa]() as psa:
        connection_id = await _connect(client, tenant, psa)
        ref = psa.add_ticket()
        session = await _session(client, tenant, connection_id, ref)
        wanted = psa.resolved if row.kind == "resolution" else psa.escalated
        outcome = expected(row.psa, row.fault, wanted)
        psa.inject(row.fault, ref)

        started = time.perf_counter()
        first = await _confirm(client, tenant, session, row.path)
        first_seconds = time.perf_counter() - started
        answers = [first]
        if first.status_code != 200:
            problem = first.json()
            assert problem["retryable"] is (isinstance(outcome, Posted) or outcome.retryable), first.text
            if row.fault == "rate_limit_long" and row.psa != "fakepsa":
                assert first.headers["retry-after"] == str(LONG_RETRY_AFTER)
            if "retry-after" in first.headers:
                psa.wait_out(int(first.headers["retry-after"]))  # the technician waits as long as the PSA asked
            answers.append(await _confirm(client, tenant, session, row.path))  # "Try again" / "Retry status"
        last = answers[-1]
        marked = psa.marked_notes(ref)
        state = (await client.get(f"/api/v1/ai-sessions/{session['id']}", headers=tenant.headers())).json()

        assert len(marked) <= 1, f"{len(marked)} notes with FlowPilot's marker on ticket {ref}"
        if row.fault in FIRED_BY:  # the fault did happen (FakePSA's show in the first answer's words instead)
            assert psa.answered(FIRED_BY[row.fault]) in (True, None), f"the fake never answered {FIRED_BY[row.fault]}"
        if row.fault.startswith("timeout_after") and row.psa != "fakepsa":
            assert first_seconds >= TIMEOUT  # the provider waited for the held-back answer
        for answer in answers:
            assert not any(secret in answer.text for secret in psa.secrets)
        if isinstance(outcome, Posted):
            assert last.status_code == 200, last.text
            assert len(answers) == (2 if outcome.retried else 1), first.text
            if outcome.retried:
                assert outcome.first_names in first.json()["detail"], first.text
            result = last.json()
            assert (result["state"], result["status_after"], result["posted_to_psa"]) == ("done", wanted, True)
            assert len(marked) == 1 and result["external_note_id"] == marked[0].id
            assert f"[FlowPilot {row.kind} {result['id']}]" in marked[0].text
            assert psa.status_name(ref) == wanted  # the fake agrees with what the API reported
            assert state["status"] == ("resolved" if row.kind == "resolution" else "escalated")
        else:
            assert last.status_code == outcome.status, last.text
            problem = last.json()
            assert outcome.names.format(ref=ref) in problem["detail"], problem["detail"]
            assert state["status"] == "open"
            assert psa.status_name(ref) != wanted  # and nothing claimed it was set
            partial = problem.get("writeback") or {}
            if outcome.note_posted:
                assert len(marked) == 1 and partial["external_note_id"] == marked[0].id
                assert partial["state"] == "status_unverified" and f"#{marked[0].id}" in problem["detail"]
            else:
                assert marked == [] and not partial.get("external_note_id")
