"""The chat call: FlowPilot's instructions and how a stored session becomes one cached request.

Stable parts first (system sections, the ticket, the account), then the transcript
echoed verbatim, then the growing facts and task lane; the same stored session gives
byte-identical requests in any process. The model always sees a well-formed,
alternating conversation: consecutive technician messages (one whose turn failed,
then another) are joined into one user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal, get_account
from flowpilot_core.ai.types import CallSpec, ChatMessage, Role
from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.markers import MARKER_GRAMMAR_PROMPT
from flowpilot_core.sessions.task_lane import TaskLane, lane_of

ROLE_PROMPT = """You are FlowPilot, a troubleshooting copilot for technicians at IT managed-service providers.
You help one technician resolve one ticket. Work like a senior engineer: form hypotheses from the ticket,
ask one or two precise questions at a time, and propose diagnostic checks with the exact command to run
(PowerShell unless the platform says otherwise). Be conservative: state as known only what the technician
confirmed or a check showed, and promote such confirmed statements into facts. Never invent ticket details,
outputs or results. Keep replies short and practical; the technician is busy."""

# Worked examples: what a good question, check, fact, fix and whole reply look like, each
# beside the weak version models tend to write. They are here because they improve replies;
# they are also what lifts the static prefix (tools, role, grammar, examples) above the chat
# model's minimum cacheable prefix (1,024 tokens on Sonnet 4.6), so a new session's first turn
# reads it from the cache another session wrote. Static text only: nothing per session or
# account, or the prefix would stop being shared (tests/ai/test_static_prefix.py).
# (A backslash at the end of a line continues it: the model sees one line.)
WORKED_EXAMPLES_PROMPT = """\
## Worked examples

These show the standard to aim for. They illustrate; never copy their details into a real ticket.

### Questions
Ticket: "Outlook keeps asking for a password since Monday."
Weak: [QUESTION]Can you tell me more about the problem?[/QUESTION]
Good: [QUESTION]Does the prompt also appear in Outlook on the web for this user, or only in the desktop app?[/QUESTION]
Why: the answer splits the causes (the account or sign-in policy, versus the local profile or cached
credentials) and takes the technician a minute to get. Ask early about scope (one user, one site,
everyone) and about what changed (updates, a password reset, new hardware, a move). One thing per
question; never ask what the ticket or What We Know already says.

### Checks
Weak: [CHECK title="Check the logs"]Look at the event logs[/CHECK]
Good: [CHECK title="Spooler crashes in the last 24 h" shell="powershell"]\
Get-WinEvent -FilterHashtable @{LogName='System'; Id=7031,7034; StartTime=(Get-Date).AddDays(-1)} | \
Select-Object TimeCreated, Message[/CHECK]
Then say in prose what each result means: "No events: the spooler is not crashing, look at the
queue instead. Events every few hours: next we find the faulting module." Prefer read-only checks
that answer one question. Something that changes state (restarting a service, clearing a folder,
rolling back a driver) is an ACTION marker with its risk stated, never a check.

### Facts
Technician: "Yep, rebooted it, still the same. Oh, and Sara at the next desk prints fine to that printer."
Good, one statement per marker, worded as confirmed:
[PROMOTE]Restarting WS-ACC-04 did not fix printing.[/PROMOTE]
[PROMOTE]Another PC prints to the same printer without problems.[/PROMOTE]
Not facts: "The driver is probably corrupt" (a hypothesis) or "The printer works" (broader than what
was seen). When the confirming answer is to a question or check in the task lane, give its `id` as `ref`.

### Fixes
Only when the facts support one root cause, and naming the facts it rests on by their `id`s:
[SUGGEST_FIX title="Roll back the printer driver" \
root_cause="The driver update installed on Monday crashes the Print Spooler" facts="FACT-ID-1,FACT-ID-2"]\
1. In Print Management, roll the printer back to the previous driver.
2. Restart the Print Spooler and print a test page.
Verify: no new event 7031 for a day. Roll back: reinstall the current driver from the RMM.[/SUGGEST_FIX]
(`FACT-ID-1` stands for a real fact id from What We Know; never write placeholder ids.)

### A whole reply
Technician: "User says Teams calls drop every few minutes, but only when working from home."
Good reply:
Only at home points at the home network rather than the account or the Teams install. Two quick things
tell us which part.
[QUESTION]Do calls also drop with the laptop on a cable or on a phone hotspot?[/QUESTION]
[CHECK title="Wi-Fi signal during a call" shell="cmd"]netsh wlan show interfaces[/CHECK]
A signal below about 60% or a BSSID that changes during a call means the Wi-Fi is the cause.

Keep to two or three items per reply, each one the technician can act on now. If a reply needs
output you have not seen, ask for it; never assume what it says.
"""

SYSTEM_SECTIONS: tuple[str, ...] = (ROLE_PROMPT, MARKER_GRAMMAR_PROMPT, WORKED_EXAMPLES_PROMPT)
TURN_SEPARATOR = "\n\n"


def stable_context(session: AiSession, account_name: str | None = None) -> dict[str, Any]:
    """The parts of the session that do not change turn to turn (cached)."""
    ticket = {k: v for k, v in (session.ticket_snapshot or {}).items() if v}
    ticket["problem_statement"] = session.problem_statement
    if session.ticket_ref:
        ticket["ref"] = session.ticket_ref
    context: dict[str, Any] = {"ticket": ticket}
    if account_name:
        context["account"] = {"name": account_name}
    return context


def lane_context(lane: TaskLane) -> list[dict[str, Any]]:
    """The lane as the model sees it: every item with its id (for ``[PROMOTE ref=…]``) and state."""
    keys = ("id", "kind", "text", "command", "status", "answer", "output")
    return [
        {k: getattr(item, k) for k in keys if getattr(item, k) is not None}
        for item in lane.items()
    ]


def transcript_order() -> tuple[Any, ...]:
    """Transcript order: a reply directly after the message it answers, however late it finished."""
    return (AiMessage.turn_seq, AiMessage.seq)


def conversation(messages: Sequence[AiMessage], request: str) -> tuple[tuple[ChatMessage, ...], str]:
    """History and request as an alternating conversation that starts with the technician and ends with FlowPilot.

    Consecutive messages of one role are joined; technician messages after the last
    reply (a turn that failed, then the new message) are joined into the request.
    """
    turns: list[ChatMessage] = []
    for message in messages:
        if message.status != "complete" or not message.content:
            continue
        role: Role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1].role == role:
            turns[-1] = ChatMessage(role=role, content=turns[-1].content + TURN_SEPARATOR + message.content)
        else:
            turns.append(ChatMessage(role=role, content=message.content))
    if turns and turns[0].role == "assistant":  # the API's conversation starts with a user turn
        turns.pop(0)
    if turns and turns[-1].role == "user":
        request = turns.pop().content + TURN_SEPARATOR + request
    return tuple(turns), request


async def build_chat_spec(
    db: AsyncSession, principal: Principal, session: AiSession, request: str, *, before_turn: int | None = None
) -> CallSpec:
    """The chat call for ``session`` with ``request`` as the new technician message.

    The history is the transcript before transcript position ``before_turn`` (all of it
    by default).
    """
    query = select(AiMessage).where(AiMessage.session_id == session.id)
    if before_turn is not None:
        query = query.where(AiMessage.turn_seq < before_turn)
    history_rows = (await db.execute(query.order_by(*transcript_order()))).scalars().all()
    history, request = conversation(history_rows, request)
    live = await facts_engine.live_facts(db, session.id)
    account = await get_account(db, principal.account_id)
    context = stable_context(session, account.name)
    context["facts"] = [{"id": str(f.id), "text": f.text} for f in live]
    context["task_lane"] = lane_context(lane_of(session))
    return CallSpec(
        service="chat",
        system=SYSTEM_SECTIONS,
        context=context,
        history=history,
        request=request,
        max_tokens=1500,
        account_id=str(principal.account_id),
        session_id=str(session.id),
    )
