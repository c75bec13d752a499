"""Prompt-cache benchmark: FlowPilot's chat prompt against the fake Messages API, one shared cache.

Plays troubleshooting sessions through ``chat_call_cached`` with the real ``anthropic`` SDK
and the Anthropic provider, pointed at one :class:`flowpilot_core.testing.FakeAnthropic`:
one API workspace, so one cache shared by every account, as on the Claude API. The
requests are shaped like FlowPilot's chat turns: its static system sections
(``flowpilot_core.sessions.chat_prompt.SYSTEM_SECTIONS``: role, marker grammar, worked
examples), a stable context like ``stable_context`` (ticket, account name), facts growing
in the trailing context, and the growing conversation; no tools (FlowPilot's chat sends
none unless MCP servers are configured). Turns are a minute apart (manual clock); the
model is the chat service's (Sonnet 4.6, minimum cacheable prefix 1,024 tokens).

The main run, under the default policy: account A works a 20-turn session; 30 minutes
later account B opens a session on another ticket. Printed, each beside its goal:

- ``first_turn_share``: the share of B's first-turn input read from cache (goal >= 0.5),
  i.e. what a session opened within the hour after another gets from the shared prefix;
- ``share_20``: the share of A's input read from cache over turns 2-20 (keep >= 0.95);
- ``limit_ratio``: the run's input cost over its physical limit (keep <= 1.10). The
  limit is computed from the very requests sent: each block-aligned prefix that a later
  request repeats is paid once as a write (1.25x; 2x when one of its uses comes more than
  five minutes after the previous one) and read at 0.1x after that; a prefix below the
  model's minimum cannot be cached; everything else is plain input. It ignores the API's
  four-breakpoint and 20-block lookback limits, so no layout of these requests beats it.

Then the TTL table behind the defaults of ``static_cache_ttl`` and ``cache_ttl``: the
input cost of A then B under each TTL pair, with B opened 2, 30 or 90 minutes after A's
last turn, and with a 15-minute pause in the middle of A.

Run from the repository root: ``.venv/bin/python bench/prompt_cache.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from flowpilot_anthropic.provider import AnthropicProvider  # noqa: E402

from flowpilot_core.ai.policy import AIPolicy  # noqa: E402
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached  # noqa: E402
from flowpilot_core.ai.tokens import canonical_json, estimate_block_tokens, request_blocks  # noqa: E402
from flowpilot_core.ai.types import CallSpec, ChatMessage, TokenUsage  # noqa: E402
from flowpilot_core.sessions.chat_prompt import SYSTEM_SECTIONS  # noqa: E402
from flowpilot_core.testing import FakeAnthropic  # noqa: E402

TURNS = 20
GAP_MINUTES = 30
GOAL_FIRST_TURN, GOAL_SHARE_20, GOAL_LIMIT_RATIO = 0.5, 0.95, 1.10
FIVE_MINUTES, ONE_HOUR = 300.0, 3600.0
WRITE_5M, WRITE_1H, READ = 1.25, 2.0, 0.1

# ---- Today's session: a long, synthetic static prompt with tools (the bench's original shape) ----

ROLE = """You are FlowPilot, a troubleshooting copilot for technicians at IT managed-service providers (MSPs).
You work one ticket at a time with one technician. The technician is competent and busy: be concise, concrete
and ordered. You never see customer machines yourself; the technician runs the checks and reports back.
Your job is to narrow the problem down to a confirmed root cause and a fix that can be applied safely,
then help the technician document it in the PSA ticket."""

METHOD = """Troubleshooting method:
1. Restate the symptom precisely (who, what, since when, how often, what changed).
2. Ask at most one question at a time, the one whose answer splits the remaining hypotheses best.
3. Prefer checks that are read-only and fast (event logs, service state, recent updates, disk space,
   DNS resolution, certificate expiry, group policy results) before anything that changes state.
4. When a check is needed, say exactly what to run, where, and what a good and a bad result look like.
5. Keep a running list of what is confirmed; never treat a guess as a fact.
6. Propose a fix only when the evidence supports it; include how to verify it and how to roll it back.
7. If the issue is beyond the technician's access or risk appetite, prepare an escalation instead."""

MARKERS = """Output markers (parsed by FlowPilot, one per line, at the end of your message):
[QUESTION] <one question for the technician>
[CHECK] <title> | <command or steps> | <expected good result>
[PROMOTE] <a statement the technician just confirmed, phrased as a fact>
[SUGGEST_FIX] <title> | <steps> | <verification> | <rollback>
Use markers only for those purposes. Do not put markers inside code blocks. Plain prose otherwise."""

SAFETY = """Safety rules:
- Never suggest disabling security tools, deleting user data, or changing domain-wide policy as a first step.
- Scripts must be idempotent, must log what they change, and must not contain credentials.
- Anything that reboots a server, restarts a shared service or touches backups needs an explicit warning and
  a maintenance-window note.
- Redact passwords, keys and personal data if the technician pastes them; say that you did.
- If the technician reports a security incident (ransomware note, unknown admin accounts), stop troubleshooting
  and point them to the MSP's incident-response procedure."""

# (title, typical causes, first checks, fix pattern, escalate when): distinct content per
# playbook, as a real playbook library has, rather than one paragraph repeated.
_PLAYBOOKS = [
    (
        "Print spooler stops or hangs",
        "a crashing third-party driver, a corrupt .SHD/.SPL spool file, a stuck job, a print processor from an old "
        "vendor package",
        "Get-Service Spooler and its recovery options; System log event 7031/7034; Application log event 1000 for "
        "spoolsv.exe and the faulting module; C:\\Windows\\System32\\spool\\PRINTERS contents; "
        "pnputil /enum-drivers for recent installs",
        "stop the spooler, clear the spool folder, roll back or replace the faulting driver, isolate drivers "
        "(Print Management, driver isolation mode), restart and test",
        "the driver is the vendor's current release and still crashes, or a print server serves many sites",
    ),
    (
        "Outlook keeps asking for a password",
        "stale cached credentials, modern authentication disabled by a registry key, a damaged profile, "
        "conditional access blocking the client",
        "Credential Manager entries for MicrosoftOffice16, HKCU\\Software\\Microsoft\\Office\\16.0\\"
        "Common\\Identity, the user's sign-in logs in Entra ID, whether webmail works",
        "remove stale credentials, re-enable modern auth, rebuild the profile if the OST is damaged",
        "sign-in logs show conditional-access failures the MSP cannot change",
    ),
    (
        "Slow logons",
        "a large roaming profile or folder redirection over a slow link, synchronous GPO processing, DNS pointing at "
        "an external resolver, a logon script waiting on a missing share",
        "gpresult /h, Group Policy operational log timings, profile size, ipconfig /all DNS servers, "
        "logon script paths",
        "fix DNS to the domain controllers, move heavy scripts to scheduled tasks, trim the profile",
        "the delay is on the domain controller side or in a vendor agent",
    ),
    (
        "VPN connects but no resources are reachable",
        "split-tunnel routes missing, no DNS suffix, an overlapping home subnet, an expired client certificate",
        "route print, nslookup of an internal name, the client's assigned subnet, certificate expiry in the VPN client",
        "push the missing routes or DNS suffix, renew the certificate, change the VPN pool if subnets overlap",
        "the firewall's VPN policy must change",
    ),
    (
        "Mapped drives missing",
        "GPO item-level targeting, offline files out of sync, a stale Credential Manager entry, a renamed share",
        "gpresult for the drive-map policy, net use, Credential Manager, the share path from the file server",
        "correct the targeting or the path, clear the credential, re-sync offline files",
        "the file server's permissions are owned by the client's own IT",
    ),
    (
        "Scan to email fails",
        "SMTP authentication disabled for the mailbox, TLS 1.2 not supported by old firmware, a changed relay "
        "connector, an expired app password",
        "the device's SMTP log, the mailbox's SMTP AUTH setting, the relay connector's allowed IPs, firmware version",
        "re-enable SMTP AUTH for the scan mailbox or switch to a relay connector, update firmware",
        "the copier vendor must update firmware",
    ),
    (
        "Windows Update stuck",
        "a corrupted SoftwareDistribution folder, wrong WSUS or update-ring targeting, a pending reboot, low disk",
        "Get-WindowsUpdateLog, the RMM patch status, free space on C:, pending reboot registry keys",
        "reset the update components, fix the targeting, free space, reboot in a window",
        "the update fails on many devices of the same model",
    ),
    (
        "Teams audio drops",
        "Wi-Fi roaming between access points, no QoS, an outdated audio driver, USB selective suspend",
        "Teams call quality dashboard for the user, Wi-Fi signal and roaming events, audio driver date, "
        "power plan USB settings",
        "update the driver, disable selective suspend, move the user to wired or fix roaming thresholds",
        "the network needs QoS changes on the client's firewall",
    ),
    (
        "Line-of-business application won't start",
        "a missing runtime (.NET, VC++), a DLL blocked by application control, a changed service account password, "
        "a license server unreachable",
        "the application's own log, Application log event 1000/1026, application-control block events, "
        "the license server port",
        "install the runtime, allow the binary in application control, update the service credential",
        "the application vendor must be engaged",
    ),
    (
        "Server disk filling up",
        "IIS or application logs without rotation, shadow copies, a failed backup cache, a runaway temp folder",
        "TreeSize or Get-ChildItem by size, vssadmin list shadowstorage, the backup agent's cache path, log folders",
        "rotate or move logs, limit shadow storage, clear the backup cache after a good backup",
        "the growth is a database that needs the vendor's maintenance",
    ),
    (
        "Backup job failing",
        "VSS writer errors, expired repository credentials, low space on the target, a locked file",
        "vssadmin list writers, the backup job log, target free space, credential expiry",
        "restart the failed writer's service, update credentials, free target space, rerun",
        "the backup target or its retention policy must change",
    ),
    (
        "Intermittent internet",
        "ISP link flaps, DHCP scope exhaustion, a duplex mismatch, a failing switch port, a loop",
        "the firewall's WAN event log, DHCP scope usage, switch port errors and STP events, ping loss to the gateway",
        "shorten leases or widen the scope, fix duplex, replace the port or cable, engage the ISP with evidence",
        "the ISP must act or the core switch needs replacing",
    ),
    (
        "Account locked out repeatedly",
        "a phone with an old password, a mapped drive or scheduled task with saved credentials, a service running "
        "as the user",
        "domain controller event 4740 for the caller computer, Credential Manager, scheduled tasks and services "
        "running as the user",
        "update or remove the stale credential at the source the event names",
        "the source is a device the MSP does not manage",
    ),
    (
        "Shared mailbox or calendar not updating",
        "cached mode without shared folders download, permissions granted to a group, an OST too large",
        "Outlook's cached-mode settings, mailbox permissions, OST size",
        "toggle shared-folder caching, grant direct permissions, rebuild the OST",
        "the mailbox needs a migration or archive policy change",
    ),
    (
        "Computer lost trust with the domain",
        "a restored snapshot, a reimage with the same name, a machine password out of sync",
        "Test-ComputerSecureChannel, the computer object's password last set, recent restores",
        "Reset-ComputerMachinePassword or rejoin, then gpupdate",
        "many machines lose trust at once (replication problem)",
    ),
    (
        "Certificate warnings on an internal site",
        "an expired certificate, a missing intermediate, a name not in the SAN list, a clock skew",
        "the certificate's expiry and chain in the browser, the server's binding, the client's clock",
        "renew and bind the certificate with its chain, fix time sync",
        "the certificate authority belongs to a third party",
    ),
]
PLAYBOOKS = "\n\n".join(
    f"Playbook {n}: {title}\nTypical causes: {causes}.\nFirst checks: {checks}.\nFix pattern: {fix}.\n"
    f"Escalate when: {escalate}."
    for n, (title, causes, checks, fix, escalate) in enumerate(_PLAYBOOKS, start=1)
)

LONG_SYSTEM = (ROLE, METHOD, MARKERS, SAFETY, PLAYBOOKS)


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": properties, "required": required},
    }


# Tool descriptions in the detailed style Anthropic recommends (what, when, what it returns, limits).
TOOLS = (
    _tool(
        "search_kb",
        "Search the MSP's knowledge base (IT Glue / Hudu articles and past resolution notes) for articles matching a "
        "symptom, an error message or an event ID. Use it before proposing a fix that may already be documented for "
        "this client or vendor. Returns up to five articles with title, client scope, last-updated date and a "
        "200-word excerpt; it does not return attachments. Quote article titles when you rely on them.",
        {
            "query": {"type": "string", "description": "Symptom, error text or event ID, in plain words."},
            "client_only": {"type": "boolean", "description": "Restrict to this client's articles."},
        },
        ["query"],
    ),
    _tool(
        "get_device",
        "Read a device's record from the RMM: operating system and build, last boot time, logged-on user, installed "
        "updates of the last 30 days, installed drivers changed in the last 30 days, open RMM alerts and disk usage. "
        "Use it to check what changed on a device before guessing. It reads the RMM's last inventory, which can be "
        "up to one hour old; say so when timing matters.",
        {"device": {"type": "string", "description": "Device name or RMM id, e.g. HDG-FD-01."}},
        ["device"],
    ),
    _tool(
        "get_ticket_history",
        "List previous PSA tickets for the same client, and optionally the same device, newest first, with summary, "
        "resolution note excerpt and technician. Use it to spot recurring problems and fixes that did not hold. "
        "Returns at most 20 tickets from the last 12 months.",
        {
            "client": {"type": "string", "description": "Client name as in the PSA."},
            "device": {"type": "string", "description": "Optional device name to narrow the list."},
        },
        ["client"],
    ),
    _tool(
        "run_rmm_script",
        "Queue one of the MSP's vetted, read-only diagnostic scripts on a device through the RMM and return its "
        "output when it finishes (usually under two minutes). Only scripts from the vetted list can run; anything "
        "that changes state must be proposed as a fix for the technician to approve instead.",
        {
            "device": {"type": "string", "description": "Device name or RMM id."},
            "script": {
                "type": "string",
                "enum": ["event_log_summary", "service_status", "driver_inventory", "disk_usage", "network_basics"],
                "description": "Vetted script id.",
            },
        },
        ["device", "script"],
    ),
    _tool(
        "list_script_templates",
        "List the MSP's script templates that could apply a fix (name, parameters, supported OS, last used). Use it "
        "when a suggested fix needs a script, so FlowPilot can prefill a template instead of writing a one-off.",
        {"keywords": {"type": "string", "description": "What the script should do, e.g. 'roll back printer driver'."}},
        ["keywords"],
    ),
)

ACCOUNT = {
    "psa": "connectwise",
    "rmm": "ninjaone",
    "escalation_queue": "Tier 2 - Desktop",
    "environment": {
        "domain": "harbordental.local (2 domain controllers, Windows Server 2022)",
        "sites": ["Main Street clinic (12 PCs)", "Bayview clinic (8 PCs)"],
        "printing": "Direct IP printing from each PC; no print server. Kyocera fleet, drivers deployed by RMM policy.",
        "line_of_business": ["Dentrix G7 (server at Main Street)", "Microsoft 365 Business Premium"],
        "patching": "NinjaOne patch policy 'Workstations - Standard': OS weekly, drivers and third-party monthly.",
        "change_rules": "Driver rollbacks and patch exclusions allowed without approval; server changes need the "
        "practice manager's OK.",
        "contacts": {"practice_manager": "Dr. Chen", "after_hours": "not covered"},
    },
}


# ---- The tickets and conversations ----

TICKET = {
    "id": "T-48213",
    "client": "Harbor Dental Group",
    "site": "Main Street clinic",
    "contact": "Front desk (Maria Lopez)",
    "summary": "Front desk printer stops printing several times a day; restarting the PC fixes it for a while.",
    "priority": "P3",
    "device": "HDG-FD-01 (Windows 11 23H2)",
    "description": (
        "Hi, the printer at the front desk keeps stopping. Patients are waiting for forms and we have to restart "
        "the computer every couple of hours to get it printing again. The other computers seem fine. It started "
        "last week I think, maybe after the computer did updates? Please help, this is slowing down check-in. "
        "Thanks, Maria"
    ),
    "notes": [
        "Triage (L1): confirmed with Maria by phone, printer is the Kyocera ECOSYS M3655idn at the front desk. "
        "Restarting the PC fixes it temporarily. No error shown on the printer panel.",
        "Triage (L1): remote session scheduled for today 2 pm; Maria is available until 5 pm.",
    ],
}

FACTS = [
    "The Print Spooler service stops, it does not hang.",
    "It happens 3-5 times a day, only on HDG-FD-01.",
    "Event 7031 (Service Control Manager) is logged at each stop.",
    "A Kyocera driver update was installed nine days ago.",
    "Application log shows a faulting module KxDriver.dll in spoolsv.exe.",
    "Other PCs print to the same printer without problems.",
    "The spool folder contained 14 stuck .SHD/.SPL files.",
    "Rolling the driver back to the previous version is allowed by the client.",
]

TECH = [
    "Front desk printer keeps stopping. Rebooting the PC fixes it for an hour or two.",
    "It stops completely, the spooler service shows Stopped.",
    "About 3 to 5 times a day, only this PC as far as I know.",
    "System log has event 7031 every time: the Print Spooler service terminated unexpectedly.",
    "Checked RMM: a Kyocera driver update went in 9 days ago. Problems started around then.",
    "Application log: faulting application spoolsv.exe, faulting module KxDriver.dll.",
    "Yes, the reception PC next to it prints to the same Kyocera fine all day.",
    "Spool folder had 14 old files in it, I cleared them.",
    "Client says rolling back the driver is fine, they just want it fixed today.",
    "Rolled back to the previous Kyocera driver via Print Management. Spooler started.",
    "Printed a test page and a patient form, both OK.",
    "No new 7031 events in the last 30 minutes.",
    "Should I pause the driver update in RMM so it doesn't come back?",
    "Done, added a patch exclusion for that Kyocera package.",
    "Anything else to check before I close this?",
    "Still no errors after an hour. Maria confirms printing works.",
    "Can you help me write the resolution note?",
    "Looks good, but mention the patch exclusion expires in 30 days.",
    "Should this be a template for other Kyocera sites?",
    "Thanks, closing the ticket.",
]

REPLY = (
    "Thanks, that narrows it down. Based on what we have confirmed so far, the most likely cause is the recently "
    "updated Kyocera driver crashing inside the spooler process. Before changing anything, confirm the faulting "
    "module and the timing so we do not chase a coincidence.\n"
    "[CHECK] Faulting module | Event Viewer > Windows Logs > Application, filter on Event ID 1000 for spoolsv.exe "
    "| The faulting module is the Kyocera driver DLL and the times match the 7031 events\n"
    "[QUESTION] Do the stops line up with large print jobs, or do they happen when nobody is printing?"
)
TICKET_B = {
    "summary": "Outlook asks for the password again and again since Monday",
    "company": "Bayside Logistics",
    "contact": "Tom Reed",
    "board": "Service Desk",
    "priority": "Priority 3 - Normal",
    "description": (
        "Outlook on my laptop keeps popping up a password box, several times an hour. I type my password and it "
        "comes back. My phone mail works. Started Monday after IT changed something? Tom"
    ),
}
FACTS_B = [
    "Outlook on the web works for Tom without prompts.",
    "Credential Manager held three stale MicrosoftOffice16 entries.",
    "After removing them Outlook asked once, then stopped.",
]
TECH_B = [
    "Outlook keeps asking Tom for his password. Where do I start?",
    "Webmail works fine for him, no prompts there.",
    "Credential Manager has three old MicrosoftOffice16 entries.",
    "Removed them and restarted Outlook, it asked once and then stopped.",
    "Still fine after 20 minutes.",
    "Can you write the resolution note?",
]


@dataclass(frozen=True)
class Session:
    account: str
    account_context: dict[str, Any]
    session_id: str
    ticket: dict[str, Any]
    facts: list[str]
    messages: list[str]
    system: tuple[str, ...] = SYSTEM_SECTIONS
    tools: tuple[dict[str, Any], ...] = ()
    fact_ids: bool = True
    """Facts as FlowPilot sends them (``{"id", "text"}``); today's session sends bare strings."""

    def spec(self, turn: int, past: tuple[ChatMessage, ...]) -> CallSpec:
        # Facts confirmed before `turn`: a new one about every other turn, appended in order.
        confirmed = self.facts[: turn // 2]
        facts: list[Any] = (
            [{"id": f"{self.session_id}-f{n}", "text": t} for n, t in enumerate(confirmed)]
            if self.fact_ids
            else confirmed
        )
        return CallSpec(
            service="chat",
            system=self.system,
            tools=self.tools,
            context={"ticket": self.ticket, "account": self.account_context, "facts": facts},
            history=past,
            request=self.messages[turn],
            max_tokens=1500,
            account_id=self.account,
            session_id=self.session_id,
        )


SESSION_A = Session("acct-harbor", {"name": "Harbor IT"}, "sess-48213", TICKET, FACTS, TECH)
SESSION_B = Session("acct-bayside", {"name": "Bayside Managed IT"}, "sess-51007", TICKET_B, FACTS_B, TECH_B)
TODAY = Session(
    "acct-harbor", ACCOUNT, "sess-48213", TICKET, FACTS, TECH, system=LONG_SYSTEM, tools=TOOLS, fact_ids=False
)


def spec_for(turn: int, past: tuple[ChatMessage, ...]) -> CallSpec:
    """Turn ``turn`` of today's session (``bench/openai_compat_prefix.py`` replays it too)."""
    return TODAY.spec(turn, past)


@dataclass
class Run:
    """What one scenario sent and was billed: per call its start time, request body and usage."""

    times: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    usages: list[TokenUsage] = field(default_factory=list)
    static_blocks: list[int] = field(default_factory=list)
    """Per call, how many leading blocks are static (tools and static system sections)."""
    sink: MemoryUsageSink = field(default_factory=MemoryUsageSink)


async def play(
    policy: AIPolicy,
    *,
    gap_minutes: float = GAP_MINUTES,
    pause_after: int | None = None,
    sessions: tuple[Session, ...] = (SESSION_A, SESSION_B),
) -> Run:
    """The sessions one after the other on one fake, each ``gap_minutes`` after the previous one's last turn."""
    run = Run()
    with FakeAnthropic(reply=REPLY) as fake:
        provider = AnthropicProvider(api_key="bench", base_url=fake.url, max_retries=0)
        for n, session in enumerate(sessions):
            gap = gap_minutes * 60 if n else 0.0
            fake.advance(gap)
            past: tuple[ChatMessage, ...] = ()
            for turn, message in enumerate(session.messages):
                run.times.append(fake.clock())
                completion = await chat_call_cached(
                    session.spec(turn, past), provider=provider, policy=policy, usage_sink=run.sink
                )
                run.bodies.append(fake.message_requests[-1].json)
                run.static_blocks.append(len(session.tools) + len(session.system))
                run.usages.append(completion.usage)
                past = (
                    *past,
                    ChatMessage(role="user", content=message),
                    ChatMessage(role="assistant", content=completion.text),
                )
                fake.advance(60)  # a technician's minute between turns
                if n == 0 and turn == pause_after:
                    fake.advance(15 * 60)  # waiting for the user to come back
        await provider.aclose()
    return run


def total_input(u: TokenUsage) -> int:
    return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens


def input_units(u: TokenUsage) -> float:
    """Input cost in base-input-token units (what a token costs uncached = 1)."""
    return (
        u.input_tokens
        + WRITE_5M * u.cache_creation_5m_input_tokens
        + WRITE_1H * u.cache_creation_1h_input_tokens
        + READ * u.cache_read_input_tokens
    )


def _prefixes(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(hash, cumulative tokens) of every block-aligned prefix of a request, as the cache keys them."""
    digest = hashlib.sha256(str(body["model"]).encode())
    out: list[tuple[str, int]] = []
    running = 0
    message_starts = set()
    position = 0
    for message in body.get("messages") or ():
        message_starts.add(position + len(body.get("tools") or ()) + len(body.get("system") or ()))
        position += len(message["content"])
    for index, (level, block) in enumerate(request_blocks(body)):
        marker = "\1" if index in message_starts else "\0"
        digest.update(
            f"{level}{marker}{canonical_json({k: v for k, v in block.items() if k != 'cache_control'})}".encode()
        )
        running += estimate_block_tokens(block)
        out.append((digest.hexdigest(), running))
    return out


def physical_limit(run: Run, minimum: int, policy: AIPolicy | None = None) -> float:
    """The lowest input cost (base-token units) any caching of these exact requests could reach.

    Per block of each request, by the prefix it ends: read (0.1x) when an earlier request
    used that prefix at most an hour before and a cached prefix reaching the minimum
    covers it; else written when a later request repeats it within the hour and a prefix
    worth caching covers it; else plain input. A write is 1.25x, or 2x when a later use
    comes more than five minutes after the one before. With ``policy``, the limit keeps the
    policy's TTLs instead (its static TTL for tools and static system blocks, its
    conversation TTL after them): the best any breakpoint layout could do with them.
    """
    requests = [_prefixes(body) for body in run.bodies]
    uses: dict[str, list[float]] = {}
    for prefixes, at in zip(requests, run.times, strict=True):
        for key, _ in prefixes:
            uses.setdefault(key, []).append(at)

    def chain(key: str, at: float, window: float) -> tuple[bool, bool, float]:
        """(used within ``window`` before, used within it after, longest gap of the chain from here)."""
        times = uses[key]
        n = times.index(at)
        longest = 0.0
        for a, b in zip(times[n:], times[n + 1 :], strict=False):
            if b - a > window:
                break
            longest = max(longest, b - a)
        before = n > 0 and at - times[n - 1] <= window
        after = n + 1 < len(times) and times[n + 1] - at <= window
        return before, after, longest

    cost = 0.0
    for prefixes, at, static_blocks in zip(requests, run.times, run.static_blocks, strict=True):
        ttls = [
            None if policy is None else policy.static_cache_ttl if i < static_blocks else policy.cache_ttl
            for i in range(len(prefixes))
        ]
        state = [
            chain(key, at, FIVE_MINUTES if ttl == "5m" else ONE_HOUR)
            for (key, _), ttl in zip(prefixes, ttls, strict=True)
        ]
        readable = max((i for i, (_, t) in enumerate(prefixes) if state[i][0] and t >= minimum), default=-1)
        writable = max((i for i, (_, t) in enumerate(prefixes) if state[i][1] and t >= minimum), default=-1)
        previous = 0
        for i, (_, tokens) in enumerate(prefixes):
            size, previous = tokens - previous, tokens
            if i <= readable:
                cost += READ * size
            elif i <= writable:
                hour = state[i][2] > FIVE_MINUTES if ttls[i] is None else ttls[i] == "1h"
                cost += (WRITE_1H if hour else WRITE_5M) * size
            else:
                cost += size
    return cost


def share(usages: list[TokenUsage]) -> float:
    return sum(u.cache_read_input_tokens for u in usages) / sum(total_input(u) for u in usages)


TTL_PAIRS = (("5m", "5m"), ("1h", "5m"), ("1h", "1h"))
TTL_SCENARIOS = (
    ("B 2 min after A", {"gap_minutes": 2}),
    ("B 30 min after A", {"gap_minutes": 30}),
    ("B 90 min after A", {"gap_minutes": 90}),
    ("A pauses 15 min at turn 10", {"gap_minutes": 30, "pause_after": 9}),
)


def print_calls(cached: Run, uncached: Run, names: list[str]) -> None:
    print(f"{'call':>5} {'input':>6} {'write_5m':>8} {'write_1h':>8} {'read':>6} {'output':>6}   uncached_input")
    for name, u, plain in zip(names, cached.usages, uncached.usages, strict=True):
        print(
            f"{name:>5} {u.input_tokens:>6} {u.cache_creation_5m_input_tokens:>8} "
            f"{u.cache_creation_1h_input_tokens:>8} {u.cache_read_input_tokens:>6} {u.output_tokens:>6}   "
            f"{total_input(plain):>14}"
        )
    for x, y in zip(cached.usages, uncached.usages, strict=True):
        assert total_input(x) == total_input(y), "both runs must send the same tokens"


def costs(cached: Run, uncached: Run, minimum: int, policy: AIPolicy) -> tuple[float, float]:
    """(input cost / its physical limit with the policy's TTLs, the same with the best TTLs) of a run."""
    actual = sum(input_units(u) for u in cached.usages)
    plain = sum(total_input(u) for u in uncached.usages)
    limit = physical_limit(cached, minimum, policy)
    free = physical_limit(cached, minimum)
    usd = sum(r.cost_usd or 0.0 for r in cached.sink.records)
    usd_plain = sum(r.cost_usd or 0.0 for r in uncached.sink.records)
    print(
        f"cost ${usd:.4f} cached vs ${usd_plain:.4f} uncached (output included); input cost / uncached "
        f"{actual / plain:.3f}; physical limit / uncached {limit / plain:.3f} with the policy's TTLs, "
        f"{free / plain:.3f} with the best TTLs for these requests alone"
    )
    return actual / limit, actual / free


async def main() -> None:
    policy = AIPolicy()
    minimum = policy.min_cacheable_for(policy.model_for("chat"))
    uncached_policy = AIPolicy.from_config({"caching": False})
    print(f"policy: static_cache_ttl={policy.static_cache_ttl} cache_ttl={policy.cache_ttl}")

    print(f"\n== Today's session: 20 turns, a long synthetic system prompt and {len(TOOLS)} tools ==")
    today = await play(policy, sessions=(TODAY,))
    today_plain = await play(uncached_policy, sessions=(TODAY,))
    print_calls(today, today_plain, [f"T{n + 1}" for n in range(TURNS)])
    today_share = share(today.usages[1:])
    today_limit, today_free = costs(today, today_plain, minimum, policy)

    print(f"\n== FlowPilot's chat prompt: account A, 20 turns; account B opens a session {GAP_MINUTES} min later ==")
    cached = await play(policy)
    uncached = await play(uncached_policy)
    print_calls(cached, uncached, [f"A{n + 1}" for n in range(TURNS)] + [f"B{n + 1}" for n in range(len(TECH_B))])
    static = sum(estimate_block_tokens({"type": "text", "text": t}) for t in SYSTEM_SECTIONS)
    print(f"model={cached.sink.records[0].model} min_cacheable={minimum} static prefix={static} tokens (estimate)")
    first_turn = share(cached.usages[TURNS : TURNS + 1])
    chat_share = share(cached.usages[1:TURNS])
    chat_limit, chat_free = costs(cached, uncached, minimum, policy)
    print(f"share of input read from cache on A's turns 2-20: {chat_share:.3f} (each turn's new history is a write)")

    print("\n== TTLs: input cost of A then B, thousands of base-input tokens (lower is better, * cheapest) ==")
    print(f"{'scenario':<28}" + "".join(f"{f'static {s} conv {c}':>20}" for s, c in TTL_PAIRS))
    for label, options in TTL_SCENARIOS:
        row = []
        for static_ttl, conv_ttl in TTL_PAIRS:
            run = await play(AIPolicy.from_config({"static_cache_ttl": static_ttl, "cache_ttl": conv_ttl}), **options)
            row.append(sum(input_units(u) for u in run.usages) / 1000)
        print(f"{label:<28}" + "".join(f"{c:>19.2f}{'*' if c == min(row) else ' '}" for c in row))

    ratio = max(today_limit, chat_limit)
    print(
        f"\ninput cost / physical limit with the best TTLs for each run alone: today {today_free:.3f}, "
        f"chat {chat_free:.3f} (the 1h static write pays off only when another session follows within the hour)"
    )
    print(
        f"first_turn_share={first_turn:.3f} (goal >= {GOAL_FIRST_TURN}) "
        f"share_20={today_share:.3f} (goal >= {GOAL_SHARE_20}) "
        f"limit_ratio={ratio:.3f} (goal <= {GOAL_LIMIT_RATIO}; today {today_limit:.3f}, chat {chat_limit:.3f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
