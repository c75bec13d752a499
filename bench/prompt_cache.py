"""Prompt-cache benchmark: a 20-turn troubleshooting session against the fake Messages API.

Plays the same session twice through ``chat_call_cached`` with the real ``anthropic`` SDK
and the Anthropic provider, pointed at :class:`flowpilot_core.testing.FakeAnthropic`:
once with caching (the default policy) and once with ``ai.caching = false``. The session
has a long static system prompt, a few tools, a stable context (ticket, account) plus a
list of facts that grows during the session, and a growing conversation; each turn is
about a minute apart (manual clock), the model is the chat service's (Sonnet 4.6).

Prints per turn the four token counts of the cached run, then the share of input
tokens read from cache over turns 2-20 and the cost ratio cached/uncached over the
whole session (output tokens included, priced from the policy). The last line is
``cache_read_share=<fraction> cost_ratio=<fraction>``.

Run from the repository root: ``.venv/bin/python bench/prompt_cache.py``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from flowpilot_anthropic.provider import AnthropicProvider  # noqa: E402

from flowpilot_core.ai.policy import AIPolicy  # noqa: E402
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached  # noqa: E402
from flowpilot_core.ai.types import CallSpec, ChatMessage, TokenUsage  # noqa: E402
from flowpilot_core.testing import FakeAnthropic  # noqa: E402

TURNS = 20

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

SYSTEM = (ROLE, METHOD, MARKERS, SAFETY, PLAYBOOKS)


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


def facts_at(turn: int) -> list[str]:
    """Facts confirmed before ``turn``: a new one about every other turn, appended in order."""
    return FACTS[: min(len(FACTS), turn // 2)]


def spec_for(turn: int, past: tuple[ChatMessage, ...]) -> CallSpec:
    return CallSpec(
        service="chat",
        system=SYSTEM,
        tools=TOOLS,
        context={"ticket": TICKET, "account": ACCOUNT, "facts": facts_at(turn)},
        history=past,
        request=TECH[turn],
        max_tokens=1024,
        account_id="acct-harbor",
        session_id="sess-48213",
    )


async def play(policy: AIPolicy) -> tuple[list[TokenUsage], MemoryUsageSink]:
    sink = MemoryUsageSink()
    usages: list[TokenUsage] = []
    with FakeAnthropic(reply=REPLY) as fake:
        provider = AnthropicProvider(api_key="bench", base_url=fake.url, max_retries=0)
        past: tuple[ChatMessage, ...] = ()
        for turn in range(TURNS):
            completion = await chat_call_cached(spec_for(turn, past), provider=provider, policy=policy, usage_sink=sink)
            usages.append(completion.usage)
            past = (
                *past,
                ChatMessage(role="user", content=TECH[turn]),
                ChatMessage(role="assistant", content=completion.text),
            )
            fake.advance(60)  # a technician's minute between turns
        await provider.aclose()
    return usages, sink


def total_input(u: TokenUsage) -> int:
    return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens


async def main() -> None:
    cached, cached_sink = await play(AIPolicy())
    uncached, uncached_sink = await play(AIPolicy.from_config({"caching": False}))

    print(f"{'turn':>4} {'input':>7} {'cache_write':>11} {'cache_read':>10} {'output':>6}   uncached_input")
    for turn, (u, plain) in enumerate(zip(cached, uncached, strict=True), start=1):
        print(
            f"{turn:>4} {u.input_tokens:>7} {u.cache_creation_input_tokens:>11} {u.cache_read_input_tokens:>10} "
            f"{u.output_tokens:>6}   {total_input(plain):>14}"
        )
    for a, b in zip(cached, uncached, strict=True):
        assert total_input(a) == total_input(b), "both runs must send the same tokens"

    first_call = cached_sink.records[0]
    print(f"model={first_call.model} turns={TURNS} first-call prefix={cached[0].cache_creation_input_tokens} tokens")
    later = cached[1:]
    share = sum(u.cache_read_input_tokens for u in later) / sum(total_input(u) for u in later)
    cached_cost = sum(r.cost_usd or 0.0 for r in cached_sink.records)
    uncached_cost = sum(r.cost_usd or 0.0 for r in uncached_sink.records)
    price = AIPolicy().price_for(first_call.model)
    assert price is not None
    output_cost = sum(u.output_tokens for u in cached) * price.output / 1e6
    print(f"session cost: cached ${cached_cost:.4f}, uncached ${uncached_cost:.4f}, of which output ${output_cost:.4f}")
    print(f"input-only cost ratio={(cached_cost - output_cost) / (uncached_cost - output_cost):.3f}")
    print(f"cache_read_share={share:.3f} cost_ratio={cached_cost / uncached_cost:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
