"""``flowpilot demo``: a demo account, a technician, sample tickets in a ConnectWise fake, and the example host portal.

The sample tickets live in the ConnectWise fake (:mod:`flowpilot_server.demo_psa`); the demo
account is connected to it like to any ConnectWise tenant, and each sample ticket has an open
session read from it. The demo account's id is kept in ``<data_dir>/demo.json`` so a second
run reuses it (and points its connection at the new run's fake).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from flowpilot_connectwise.testing import FakeConnectWise
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core import psa
from flowpilot_core.accounts import accounts
from flowpilot_core.accounts.embed_tokens import MAX_TTL_SECONDS, mint_embed_token
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import create_engine, make_sessionmaker, set_account, tenant_session
from flowpilot_core.db.models import AiSession, PsaConnection
from flowpilot_core.errors import Conflict
from flowpilot_core.scripts.library import TemplateIn, create_template
from flowpilot_core.scripts.schema import ParameterSchema, ParameterSpec
from flowpilot_core.sessions.from_ticket import open_session
from flowpilot_core.sessions.lifecycle import CreateSession
from flowpilot_core.tickets import Ticket
from flowpilot_server.demo_psa import CONNECTION_NAME, STATUSES, FakeTickets, start_demo_psa

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


# The script library a newcomer finds: one template the printing ticket's fix matches (the
# Outlook ticket has none, so its fix shows the no-template options).
SAMPLE_TEMPLATES: tuple[TemplateIn, ...] = (
    TemplateIn(
        name="Restart the Print Spooler on a computer",
        description="Restarts the Print Spooler service on a PC or print server, optionally clearing stuck jobs, "
        "and sets it to start with Windows.",
        language="powershell",
        tags=["printing", "print spooler", "print queue"],
        parameter_schema=ParameterSchema(
            parameters=[
                ParameterSpec(
                    name="computer", label="Computer", type="hostname", description="The affected PC or print server."
                ),
                ParameterSpec(
                    name="clear_queue",
                    label="Clear stuck jobs",
                    type="boolean",
                    required=False,
                    default=False,
                    description="Also delete the spooled jobs.",
                ),
            ]
        ),
        body=(
            "$ComputerName = {{ computer }}\n"
            "$ClearQueue = {{ clear_queue }}\n"
            "Invoke-Command -ComputerName $ComputerName -ScriptBlock {\n"
            "    param($clear)\n"
            "    Stop-Service -Name Spooler -Force\n"
            "    if ($clear) {\n"
            "        $spool = Join-Path $env:SystemRoot 'System32\\spool\\PRINTERS'\n"
            "        Remove-Item -Path (Join-Path $spool '*') -Force -ErrorAction SilentlyContinue\n"
            "    }\n"
            "    Set-Service -Name Spooler -StartupType Automatic\n"
            "    Start-Service -Name Spooler\n"
            "    Get-Service -Name Spooler | Select-Object Status, StartType\n"
            "} -ArgumentList $ClearQueue\n"
        ),
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


async def prepare_demo(settings: Settings, urls: Any, *, portal_port: int, psa: DemoPsa) -> DemoAccount:
    assert settings.secret_key
    state_file = settings.data_dir / "demo.json"
    engine = create_engine(urls.app)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as db, db.begin():
            account_id: uuid.UUID | None = None
            if state_file.exists():
                account_id = uuid.UUID(json.loads(state_file.read_text())["account_id"])
                await set_account(db, account_id)
                if await db.get(accounts.Account, account_id) is None:
                    account_id = None  # the database was reset; make a new demo account
            if account_id is None:
                created = await accounts.create_account(db, name="Demo MSP", secret_key=settings.secret_key)
                account_id = created.id
            await set_account(db, account_id)
            await accounts.set_allowed_origins(db, account_id, _portal_origins(portal_port))
            secret = await accounts.embed_secret(db, account_id, settings.secret_key)
            user = await accounts.upsert_user(db, account_id, *DEMO_USER)
            connection_id = await _connect(db, account_id, settings.secret_key, psa.fake.config())
            principal = accounts.Principal(account_id=account_id, via="embed_token", user_id=user.id)
            await _seed_templates(db, principal)
        await _open_sample_sessions(sessionmaker, principal, connection_id, settings.secret_key, psa)
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
        role="admin",  # the demo's user is the MSP's admin too, so the usage dashboard is open to them
    )
    return DemoAccount(account_id=account_id, embed_secret=secret, token=token, user_name=DEMO_USER[1])


@dataclass
class DemoPsa:
    """The running ConnectWise fake and the sample tickets in it, by ticket number."""

    fake: FakeConnectWise
    samples: dict[str, Ticket]

    @classmethod
    def start(cls) -> DemoPsa:
        fake, samples = start_demo_psa(SAMPLE_TICKETS)
        return cls(fake, samples)

    def close(self) -> None:
        self.fake.close()


async def _seed_templates(db: AsyncSession, principal: accounts.Principal) -> None:
    """The sample script templates, once: a template the demo's technician renamed or deleted stays so."""
    for template in SAMPLE_TEMPLATES:
        try:
            async with db.begin_nested():
                await create_template(db, principal, template)
        except Conflict:
            pass  # seeded by an earlier run


def _providers() -> Any:
    from flowpilot_core.plugins import collect, load_plugins

    load_plugins()
    return collect().psa_providers


async def _connect(db: AsyncSession, account_id: uuid.UUID, secret_key: str, config: dict[str, Any]) -> uuid.UUID:
    """The demo account's connection to this run's fake (its port changes from run to run)."""
    providers = _providers()
    mine = (PsaConnection.account_id == account_id, PsaConnection.name == CONNECTION_NAME)
    query = select(PsaConnection.id).where(*mine)
    existing = (await db.execute(query)).scalar()
    if existing is not None:
        changes = psa.UpdatePsaConnection(config=config, statuses=psa.StatusMapping(**STATUSES), is_default=True)
        return (await psa.update_connection(db, account_id, existing, changes, secret_key, providers)).id
    body = psa.CreatePsaConnection(provider="connectwise", name=CONNECTION_NAME, config=config,
                                   statuses=psa.StatusMapping(**STATUSES), is_default=True)  # fmt: skip
    return (await psa.create_connection(db, account_id, body, secret_key, providers)).id


async def _open_sample_sessions(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: accounts.Principal,
    connection_id: uuid.UUID,
    secret_key: str,
    demo_psa: DemoPsa,
) -> None:
    """An open session on each sample ticket that has none, read from the fake like any PSA ticket."""
    async with tenant_session(sessionmaker, principal.account_id) as db:
        query = select(AiSession.ticket_ref).where(
            AiSession.psa_connection_id == connection_id, AiSession.status == "open"
        )
        open_refs = set((await db.execute(query)).scalars())
    for ref, ticket in demo_psa.samples.items():
        if ref in open_refs:
            continue
        body = CreateSession(
            problem_statement=ticket.description or "",
            psa_connection=str(connection_id),
            ticket_ref=ref,
            ticket=Ticket(priority=ticket.priority),
        )
        await open_session(sessionmaker, principal, body, secret_key=secret_key, providers=_providers())


def start_host_portal(
    settings: Settings, demo: DemoAccount, portal_port: int, demo_psa: DemoPsa
) -> ThreadingHTTPServer | None:
    """Serve the example host portal (the fake PSA's ticket pages, embedding FlowPilot) in a thread."""
    if not portal_port:
        return None
    try:
        from flowpilot_embed.host_portal import make_host_portal_server
    except ImportError:
        return None
    server = make_host_portal_server(
        settings.host,
        portal_port,
        settings.base_url,
        str(demo.account_id),
        demo.embed_secret,
        tickets=FakeTickets(demo_psa.fake),
    )
    threading.Thread(target=server.serve_forever, name="host-portal", daemon=True).start()
    return server
