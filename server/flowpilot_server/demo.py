"""``flowpilot demo``: a demo account, a technician, sample tickets, and the example host portal.

The demo account's id is kept in ``<data_dir>/demo.json`` so a second run reuses it.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from flowpilot_core.accounts import accounts
from flowpilot_core.accounts.embed_tokens import MAX_TTL_SECONDS, mint_embed_token
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import create_engine, make_sessionmaker, set_account
from flowpilot_core.sessions.lifecycle import CreateSession, create_session, list_sessions
from flowpilot_core.tickets import Ticket

DEMO_USER = ("demo-tech", "Dana Tech", "dana.tech@demo-msp.example")

SAMPLE_TICKETS: tuple[Ticket, ...] = (
    Ticket(
        summary="Printing stuck in queue - Accounting",
        description="Nobody in Accounting can print since this morning. Jobs sit in the queue on WS-ACC-04 and never "
        "reach the HP LaserJet. Restarting the PC did not help.",
        company="Contoso Dental",
        contact="Maria Lopez",
        board="Service Desk",
        status="New",
        priority="High",
        ref="48213",
    ),
    Ticket(
        summary="Outlook keeps asking for password",
        description="Since the weekend Outlook on LAPTOP-7F3K2 prompts for the password every few minutes and the "
        "mailbox shows 'Disconnected'. Webmail works fine.",
        company="Northwind Legal",
        contact="James Chen",
        board="Service Desk",
        status="New",
        priority="Medium",
        ref="48220",
    ),
    Ticket(
        summary="VPN connects but no access to file server",
        description="Remote user connects to the VPN fine but cannot reach \\\\fs01\\shared. Error 'The network path "
        "was not found'. Started after the ISP router was replaced at home.",
        company="Fabrikam Engineering",
        contact="Priya Nair",
        board="Network",
        status="In Progress",
        priority="Medium",
        ref="48231",
    ),
)


@dataclass(frozen=True)
class DemoAccount:
    account_id: uuid.UUID
    embed_secret: str
    token: str
    user_name: str


def _portal_origins(portal_port: int) -> list[str]:
    return [f"http://127.0.0.1:{portal_port}", f"http://localhost:{portal_port}"] if portal_port else []


async def prepare_demo(settings: Settings, urls: Any, *, portal_port: int) -> DemoAccount:
    assert settings.secret_key
    state_file = settings.data_dir / "demo.json"
    engine = create_engine(urls.app)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            account_id: uuid.UUID | None = None
            if state_file.exists():
                account_id = uuid.UUID(json.loads(state_file.read_text())["account_id"])
                await set_account(db, account_id)
                if await db.get(accounts.Account, account_id) is None:
                    account_id = None  # the database was reset; make a new demo account
            if account_id is None:
                created = await accounts.create_account(db, name="Demo MSP", secret_key=settings.secret_key)
                account_id = created.id
            await accounts.set_allowed_origins(db, account_id, _portal_origins(portal_port))
            secret = await accounts.embed_secret(db, account_id, settings.secret_key)
            user = await accounts.upsert_user(db, account_id, *DEMO_USER)
            principal = accounts.Principal(account_id=account_id, via="embed_token", user_id=user.id)
            if not (await list_sessions(db, principal, limit=1)).items:
                for ticket in SAMPLE_TICKETS:
                    await create_session(
                        db,
                        principal,
                        CreateSession(
                            problem_statement=ticket.description or "",
                            ticket=ticket,
                            ticket_ref=ticket.ref,
                        ),
                    )
    finally:
        await engine.dispose()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"account_id": str(account_id)}))
    token = mint_embed_token(
        account_id=account_id,
        secret=secret,
        user_id=DEMO_USER[0],
        name=DEMO_USER[1],
        email=DEMO_USER[2],
        ttl_seconds=MAX_TTL_SECONDS,
    )
    return DemoAccount(account_id=account_id, embed_secret=secret, token=token, user_name=DEMO_USER[1])


def start_host_portal(settings: Settings, demo: DemoAccount, portal_port: int) -> str | None:
    """Serve the example host portal (a fake PSA ticket page embedding FlowPilot) in a thread."""
    if not portal_port:
        return None
    try:
        from flowpilot_embed.host_portal import make_host_portal_server
    except ImportError:
        return None
    server = make_host_portal_server(
        settings.host, portal_port, settings.base_url, str(demo.account_id), demo.embed_secret
    )
    threading.Thread(target=server.serve_forever, name="host-portal", daemon=True).start()
    return f"http://{settings.host}:{portal_port}/"
