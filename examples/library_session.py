"""Drive a FlowPilot troubleshooting session from Python, no server involved.

    python examples/library_session.py

Uses the same configuration as `flowpilot serve` (FLOWPILOT_DATABASE_URL, or the embedded
PostgreSQL in FLOWPILOT_DATA_DIR; the offline model unless ANTHROPIC_API_KEY is set).
It creates an account and a session for a print-spooler ticket, chats, answers the first
question FlowPilot asks, and prints What We Know.
"""

from __future__ import annotations

import asyncio

from flowpilot_core.accounts import accounts
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.facts.crud import list_facts
from flowpilot_core.library import FlowPilot
from flowpilot_core.sessions.chat import ChatRequest
from flowpilot_core.sessions.lifecycle import CreateSession, create_session
from flowpilot_core.tickets import Ticket


async def main() -> None:
    fp = await FlowPilot.open()
    try:
        async with fp.sessionmaker() as db, db.begin():
            account = await accounts.create_account(db, name="Library Example MSP", secret_key=fp.secret_key)
            tech = await accounts.upsert_user(db, account.id, "tech-7", "Robin Tech", None)
            principal = accounts.Principal(account_id=account.id, via="embed_token", user_id=tech.id)
            session = await create_session(
                db,
                principal,
                CreateSession(
                    problem_statement="Accounting users can't print; jobs are stuck in the queue on WS-ACC-04.",
                    ticket=Ticket(summary="Printing stuck in queue", company="Contoso Dental", ref="48213"),
                ),
            )
        print(f"session {session.id}: {session.title}")

        turn = await fp.chat.post_message(principal, session.id, ChatRequest(content="Users can't print at all."))
        print("\nFlowPilot:", turn.assistant_message.content)

        question = next(q for q in turn.task_lane.questions if q.status == "open")
        print(f"\nAnswering: {question.text} -> No")
        update = await fp.answers.answer(principal, session.id, question.id, "No")
        print("New fact:", update.fact.text if update.fact else "(none: the answer was not clear enough)")

        async with tenant_session(fp.sessionmaker, account.id) as db:
            known = await list_facts(db, principal, session.id)
        print("\nWhat We Know:")
        for fact in known.items:
            print(f"  - {fact.text}  [{fact.origin}]")
    finally:
        await fp.close()


if __name__ == "__main__":
    asyncio.run(main())
