"""Deterministic ticket-draft extraction for the offline model (ai-parse without a model).

Reads an e-mail, call note or chat paste and fills a :class:`TicketDraft` with plain
rules: e-mail headers and signatures for the affected user, host-name patterns for the
device, error codes and quoted dialog text (verbatim) for error messages, impact and
urgency words for the priority, keyword scores for the category, and the account's
board names for the board. Same text, same draft, in any process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowpilot_core.tickets.intake import SUMMARY_MAX_CHARS, TicketDraft, clamp_summary, normalise_taxonomy

__all__ = ["extract_emails", "extract_error_messages", "find_devices", "parse_ticket_text"]

# ---------------------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_RE = re.compile(r"\b(?:https?|ftp)://\S+", re.I)
_UNC_RE = re.compile(r"\\\\[^\s\\]+(?:\\[^\s\\\"”]+)*")
# NetBIOS-style names: upper-case groups joined by hyphens, with at least one digit
# (LAPTOP-7F3K2, WS-ACC-04, HP-ACC-01); the digit keeps SSIDs and group names out.
_HOST_RE = re.compile(r"(?<![\w.@-])(?=[A-Z0-9-]*\d)[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+(?![\w@-])")
_FQDN_RE = re.compile(
    r"(?<![\w.@/-])[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:local|lan|corp|internal|intra|ad|home\.arpa)\b",
    re.I,
)
_NOT_DEVICE_CONTEXT_RE = re.compile(r"\b(?:ssid|network name|wi-?fi name|group|kb)\s*(?:is|:|=)?\s*$", re.I)
_CODE_RES = (
    re.compile(r"\b0x[0-9A-Fa-f]{3,8}\b"),
    re.compile(r"\bAADSTS\d{5,7}\b"),
    re.compile(r"\bNET::ERR_[A-Z_]+\b"),
    re.compile(r"\bERR_[A-Z][A-Z_]+\b"),
    re.compile(r"\b[Ee]vent ID:? \d{1,5}\b"),
    re.compile(r"\b[Ee]rror(?: code)?:? \d{3,5}\b"),
    re.compile(r"\bSTOP (?:code )?[A-Z_]{6,}\b"),
)
_QUOTE_RE = re.compile(r'"([^"\n]{3,400})"|“([^”\n]{3,400})”')
_SIGNOFF_RE = re.compile(
    r"^(?:thanks|thank you|many thanks|thanks again|cheers|regards|kind regards|best regards|best|br|ta|"
    r"warm regards|all the best|thx)\b[ ,!.]*(.*)$",
    re.I,
)
_HEADER_RE = re.compile(r"^(from|to|cc|bcc|sent|date|subject|importance)\s*:", re.I)
# A greeting, optionally with who is greeted ("Hi team,", "Morning Sam -"), never more.
_GREETING_RE = re.compile(
    r"^(?:hi|hello|hey|hiya|dear|morning|good morning|good afternoon|afternoon)"
    r"(?: (?:all|team|there|guys|everyone|folks|(?-i:[A-Z][a-z]+)))?\s*[,.!:-]?(?:\s+|$)",
    re.I,
)
_NAME_RE = r"[A-Z][a-z]+(?:[ -][A-Z][a-z'\u2019]+){0,2}"
# Capitalised words that follow "new starter" and friends but are not people.
_NOT_NAMES = {
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "tomorrow",
    "next",
    "this",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "the",
    "a",
    "an",
    "in",
    "on",
    "starting",
    "joining",
}
_GENERIC_MAILBOX_NAMES = {
    "reception",
    "support",
    "helpdesk",
    "admin",
    "office",
    "info",
    "accounts",
    "it",
    "hr",
    "noreply",
    "no-reply",
}

# ---------------------------------------------------------------------------------------
# Priority words
# ---------------------------------------------------------------------------------------

_SECURITY_INCIDENT = (
    r"clicked (?:a|the|on a|on the)? ?link",
    r"entered my (?:\w+ )?password",
    r"phish\w*",
    r"ransomware",
    r"hacked",
    r"compromised",
    r"malware",
    r"virus",
    r"suspicious (?:login|sign-?in)",
    r"mfa prompts? i didn'?t",
    r"didn'?t ask for",
    r"ransom\w*",
    r"files\b[^.]{0,30}\b(?:encrypted|renamed to)",
    r"\w*decrypt\w*",
    r"\bstolen\b",
    r"(?:lost|left) (?:my|a|the|our) (?:work )?(?:laptop|phone|tablet|device)",
    r"impossible travel",
    r"(?:unusual|unfamiliar|risky|unknown) (?:login|sign-?in|location)",
)
_MANY = (
    r"whole office",
    r"entire office",
    r"whole company",
    r"entire company",
    r"everyone",
    r"everybody",
    r"all users",
    r"all staff",
    r"nobody",
    r"no one",
    r"several users",
    r"multiple users",
    r"all (?:the )?pcs",
    r"whole (?:team|branch|site|floor)",
    r"the office",
    r"all of us",
    r"\b\d{2,} (?:staff|people|users|employees|colleagues|of us)\b",
    r"all (?:our )?(?:sites|offices|branches|locations)",
    r"(?:other|others) (?:people )?in (?:\w+ )?(?:are|have|see|get)",
    r"for everyone",
)
# The requester says it is only them: their words about everyone else are not impact.
_ONLY_ME = (
    r"(?:everyone|everybody|others?) else (?:is|are|seems?|looks?) (?:fine|ok|okay|working|unaffected)",
    r"\b(?:just|only) (?:me|my (?:pc|laptop|computer|machine))\b",
    r"nobody else",
)
_BLOCKED = (
    r"can'?t work",
    r"cannot work",
    r"unable to work",
    r"can'?t get to",
    r"cannot get to",
    r"can'?t access",
    r"cannot access",
    r"can'?t save",
    r"cannot save",
    r"can'?t (?:sign|log) ?in",
    r"cannot (?:sign|log) ?in",
    r"can'?t approve",
    r"no internet",
    r"(?:is|are) down",
    r"outage",
    r"can'?t do anything",
    r"can'?t connect to anything",
    r"not working at all",
    r"locked out",
    r"can'?t do any work",
    r"can'?t (?:send|receive)",
    r"cannot (?:send|receive)",
    r"unavailable",
    r"(?:is|has) stopped\b",
    r"won'?t (?:turn on|boot|start)",
    r"can'?t (?:log|sign) (?:in|on)",
)
_SITE_DOWN = (
    r"server (?:is )?down",
    r"site (?:is )?down",
    r"(?:whole office|everyone|nobody|no one)[^.]{0,40}"
    r"(?:no internet|can'?t|cannot|down)",
    r"(?:nobody|no one|none of (?:us|them|the \w+))[^.]{0,40}(?:can|could) "
    r"(?:connect|log|sign|work|print|access|get|send|open)",
    r"(?:can'?t|cannot) get through",
    r"loss of connectivity",
    r"\b(?:host|server|firewall|router|switch|site) \S+ is down",
    r"no internet",
    r"losing (?:us )?(?:money|bookings|sales|business|orders|customers)",
    r"customers (?:can'?t|cannot|are ringing|are calling|complain)",
)
# An explicit priority tag from a monitoring alert or the requester ("[Critical]", "P1").
_EXPLICIT_CRITICAL = (r"\[critical\]", r"p1", r"priority 1", r"sev ?1", r"severity 1", r"critical alert")
_URGENT = (
    r"(?<!not )(?<!non-)(?<!non )urgent(?:ly)?",
    r"asap",
    r"as soon as possible",
    r"emergency",
    r"critical",
    r"immediately",
    r"right away",
)
_VIP = (
    r"ceo",
    r"cfo",
    r"coo",
    r"managing director",
    r"director",
    r"partner",
    r"owner",
    r"vip",
    r"the boss",
    r"head of",
)
_DEADLINE = (
    r"(?:need|needed|have to|must)\b[^.]{0,40}\b(?:today|tonight|this (?:morning|afternoon))",
    r"meeting at \d",
    r"\d{1,2} ?(?:am|pm)\b",
    r"\bby \d{1,2}\b",
    r"deadline",
    r"court",
    r"payroll",
    r"month[- ]end",
    r"before (?:the )?meeting",
    r"in an hour",
    r"patients arriving",
    r"(?:for|by|before) tomorrow(?: morning)?",
    r"tomorrow morning",
    r"end of (?:the )?day",
    r"\beod",
    r"board (?:pack|meeting)",
    r"stock ?take",
)
# Data-protection failures are urgent even when nobody says so.
_DATA_RISK = (
    r"backups? (?:job )?(?:has |have )?failed",
    r"backup failure",
    r"failed (?:backup|to back up)",
    r"(?:second|third) (?:night|day|time) in a row",
    r"raid (?:degraded|failure)",
    r"disk failure",
)
_LOW = (
    r"no rush",
    r"not urgent",
    r"no hurry",
    r"whenever",
    r"when you get a chance",
    r"when (?:they|you|someone) "
    r"ha(?:ve|s) (?:the )?time",
    r"low priority",
    r"this week",
    r"before friday",
    r"it still works",
    r"not a big deal",
    r"when convenient",
    r"at some point",
    r"(?:could|can|may) (?:i|we) (?:get|have|request)",
    r"(?:please|could you|can you) (?:install|add|set up|create|order)",
    r"\bhow do i\b",
    r"\bquote\b",
    r"next (?:week|month|quarter|year)",
    r"this (?:quarter|month)",
    r"warning threshold",
)

# ---------------------------------------------------------------------------------------
# Categories (generic ones; mapped onto the account's when it has a taxonomy)
# ---------------------------------------------------------------------------------------

_CATEGORY_KEYWORDS: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    (
        "Security",
        (
            ("phish", 4),
            ("clicked a link", 4),
            ("malware", 4),
            ("virus", 3),
            ("ransomware", 5),
            ("hacked", 4),
            ("compromised", 4),
            ("suspicious", 2),
            ("bitlocker", 4),
            ("recovery key", 3),
            ("certificate", 3),
            ("cert_", 3),
            ("ssl", 2),
            ("isn't private", 3),
            ("security warning", 3),
            ("encrypt", 2),
            ("ransom", 5),
            ("decrypt", 4),
            ("stolen", 5),
            ("impossible travel", 5),
            ("risk level", 2),
            ("breach", 4),
        ),
    ),
    (
        "Remote Access",
        (
            ("vpn", 4),
            ("remote desktop", 4),
            ("rdp", 4),
            ("forticlient", 3),
            ("anyconnect", 3),
            ("globalprotect", 3),
            ("citrix", 3),
            ("sslvpn", 3),
            ("error 800", 3),
            ("terminal server", 4),
            ("remote session", 3),
            ("from home", 1),
        ),
    ),
    ("Printing", (("printer", 4), ("print", 2), ("spooler", 4), ("toner", 3), ("print queue", 3), ("scan to", 2))),
    (
        "Accounts & Access",
        (
            ("password", 2),
            ("sign in", 2),
            ("sign-in", 2),
            ("log in", 2),
            ("login", 2),
            ("logon", 3),
            ("locked out", 3),
            ("mfa", 2),
            ("multi-factor", 3),
            ("authenticator", 3),
            ("aadsts", 3),
            ("new starter", 5),
            ("new hire", 5),
            ("leaver", 4),
            ("account", 1),
            ("permission", 2),
            ("group", 1),
            ("access to", 1),
        ),
    ),
    (
        "Email & Collaboration",
        (
            ("outlook", 3),
            ("email", 1),
            ("e-mail", 1),
            ("mailbox", 3),
            ("shared mailbox", 3),
            ("exchange", 2),
            ("teams", 3),
            ("calendar", 2),
            ("webmail", 2),
            ("send as", 3),
            (".ost", 2),
            ("sharepoint", 2),
            ("onedrive", 2),
        ),
    ),
    (
        "Storage & Backup",
        (
            ("disk space", 4),
            ("out of space", 4),
            ("disk full", 4),
            ("drive is full", 4),
            ("backup", 3),
            ("storage", 2),
            ("quota", 2),
            ("free space", 3),
            ("% free", 3),
            ("veeam", 3),
            ("snapshot", 2),
            ("% used", 3),
            ("disk", 1),
        ),
    ),
    (
        "Network & Connectivity",
        (
            ("internet", 3),
            ("wifi", 4),
            ("wi-fi", 4),
            ("network", 2),
            ("dns", 3),
            ("router", 3),
            ("switch", 1),
            ("firewall", 3),
            ("connectivity", 3),
            ("website", 2),
            ("ssid", 3),
            ("dhcp", 3),
            ("ip address", 2),
            ("mapped drive", 4),
            ("drive missing", 3),
            ("s: drive", 3),
            ("reconnecting", 2),
            ("shared drive", 1),
            ("ethernet", 2),
            ("voip", 1),
        ),
    ),
    (
        "Performance",
        (
            ("slow", 3),
            ("freez", 3),
            ("takes ages", 3),
            ("hangs", 2),
            ("sluggish", 3),
            ("not responding", 2),
            ("high cpu", 3),
            ("mins to boot", 2),
        ),
    ),
    (
        "Hardware",
        (
            ("screen", 2),
            ("monitor", 2),
            ("keyboard", 2),
            ("mouse", 2),
            ("battery", 2),
            ("dock", 1),
            ("won't turn on", 4),
            ("no power", 3),
            ("headset", 1),
            ("broken", 1),
            ("cracked", 3),
        ),
    ),
    (
        "Software",
        (
            ("windows update", 4),
            ("updates failing", 4),
            ("install", 2),
            ("licen", 2),
            ("crash", 2),
            ("application", 1),
            ("update", 1),
            ("sql", 2),
            ("database", 2),
            ("macro", 3),
            ("excel", 2),
            ("acrobat", 2),
            ("adobe", 2),
            ("has stopped working", 3),
        ),
    ),
)
# How a generic category shows up in an account's own category names.
_CATEGORY_SYNONYMS = {
    "Security": ("security", "cyber", "incident"),
    "Remote Access": ("remote", "vpn"),
    "Printing": ("print",),
    "Accounts & Access": ("account", "access", "identity", "user admin", "login"),
    "Email & Collaboration": ("email", "e-mail", "mail", "collaboration", "exchange", "m365", "office 365"),
    "Storage & Backup": ("storage", "backup", "file"),
    "Network & Connectivity": ("network", "connectivity", "internet", "wifi"),
    "Performance": ("performance", "slow"),
    "Hardware": ("hardware", "device", "desktop", "laptop"),
    "Software": ("software", "application", "app"),
}
# Host names that are servers by naming convention (SRV-..., ...-DC01, FS01, SQL02).
_SERVER_NAME_RE = re.compile(r"(?i)^(?:srv|svr|dc|fs|sql|app|exch|rds|hv|vm)[-\d]|-(?:srv|dc|fs|sql|app|exch|rds)\d")
_INFRA_CATEGORIES = ("Network & Connectivity", "Storage & Backup", "Security")
_INFRA_WORDS = re.compile(
    r"\b(?:server|srv|dc|domain controller|firewall|router|switch|access point|website|"
    r"web site|certificate|branch|whole office|site)\b",
    re.I,
)
_PROJECT_WORDS = re.compile(
    r"\b(?:project|migration|migrate|moving (?:our|all|\d+)|quote for|a quote|roll ?out|plan for)\b", re.I
)
_ONBOARDING_WORDS = re.compile(r"\b(?:new starter|new hire|new joiner|onboard\w*|leaver|offboard\w*|joining)\b", re.I)
_SYMPTOM_CUES = re.compile(
    r"\b(?:can'?t|cannot|cant|won'?t|wont|unable|not working|doesn'?t|isn'?t|keeps?|stuck|offline|error|fail\w*|"
    r"slow|freez\w*|crash\w*|dropping|drops|missing|disappeared|no internet|no sound|asking for|asks for|down|"
    r"red x|locked|out of (?:disk )?space|prompts?|blue screen|sit in the queue|shows|showing|says|saying|"
    r"closes|closing|shuts? down|disappears?)\b",
    re.I,
)


def _any(patterns: tuple[str, ...], text: str) -> list[str]:
    """Each pattern's first match in ``text`` (as written), in pattern order."""
    found: list[str] = []
    for pattern in patterns:
        m = re.search(r"(?<![\w'])" + pattern + r"(?![\w'])", text, re.I)
        if m and m.group(0) not in found:
            found.append(m.group(0))
    return found


# ---------------------------------------------------------------------------------------
# Extractors
# ---------------------------------------------------------------------------------------


def extract_emails(text: str) -> list[str]:
    """E-mail addresses in order of first appearance."""
    out: list[str] = []
    for m in _EMAIL_RE.finditer(text):
        address = m.group(0).rstrip(".")
        if address not in out:
            out.append(address)
    return out


def _masked_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _EMAIL_RE.finditer(text)]
    spans += [m.span() for m in _URL_RE.finditer(text)]
    spans += [m.span() for m in _UNC_RE.finditer(text)]
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in spans)


def find_devices(text: str) -> list[str]:
    """Device and host names as written (FQDNs first claim their span), in text order.

    Names inside e-mail addresses, URLs and UNC paths are locations, not the affected
    device, and names right after "SSID is" / "group" are not devices either.
    """
    masked = _masked_spans(text)
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _FQDN_RE.finditer(text):
        if _inside(m.start(), masked):
            continue
        hits.append((m.start(), m.group(0)))
        taken.append(m.span())
    for m in _HOST_RE.finditer(text):
        if _inside(m.start(), masked) or _inside(m.start(), taken):
            continue
        if _NOT_DEVICE_CONTEXT_RE.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        hits.append((m.start(), m.group(0)))
    out: list[str] = []
    for _, name in sorted(hits):
        if name not in out:
            out.append(name)
    return out


_SYMBOLIC_ERROR_RE = re.compile(r"[A-Z][A-Z0-9]*(?:[_:.][A-Z0-9]+)+")
_SHOWN_CUE_RE = re.compile(r"\b(?:says|saying|shows|showing|reads|displays|error|message|prompt|with)\W*$", re.I)


def extract_error_messages(text: str) -> list[str]:
    """Error messages quoted verbatim: quoted dialog text of three words or more, then codes.

    A code that already appears inside an extracted quote is not repeated. Order is the
    order of appearance in the text.
    """
    found: list[tuple[int, str]] = []
    masked = [m.span() for m in _URL_RE.finditer(text)]
    for m in _QUOTE_RE.finditer(text):
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        if _inside(m.start(), masked):
            continue
        # A short quote is an error only when it looks like one: a symbolic constant
        # (CRITICAL_PROCESS_DIED) or words a dialog "says" or "shows".
        before = text[max(0, m.start() - 24) : m.start()]
        if len(inner.split()) < 3 and not (_SYMBOLIC_ERROR_RE.fullmatch(inner.strip()) or _SHOWN_CUE_RE.search(before)):
            continue
        start = m.start(1) if m.group(1) is not None else m.start(2)
        found.append((start, inner.strip()))
    quotes = [q for _, q in found]
    for pattern in _CODE_RES:
        for m in pattern.finditer(text):
            code = m.group(0)
            if _inside(m.start(), masked) or any(code in q for q in quotes):
                continue
            if any(start <= m.start() < start + len(q) for start, q in found):
                continue
            found.append((m.start(), code))
    out: list[str] = []
    for _, message in sorted(found):
        if message not in out and not any(message != o and message in o for o in out):
            out.append(message)
    return out


def _strip_quotes(text: str) -> str:
    """The text without quoted dialog text: an error dialog's words are not the user's urgency."""
    return _QUOTE_RE.sub(" ", text)


def _priority(text: str) -> tuple[str, str]:
    plain = _strip_quotes(text)
    security = _any(_SECURITY_INCIDENT, plain)
    only_me = bool(_any(_ONLY_ME, plain))
    many = [] if only_me else _any(_MANY, plain)
    blocked = _any(_BLOCKED, plain)
    site = [] if only_me else _any(_SITE_DOWN, plain)
    urgent = _any(_URGENT, plain)
    vip = _any(_VIP, plain)
    # A starter's or leaver's date is when the work is due, not an emergency.
    deadline = [] if _ONBOARDING_WORDS.search(plain) else _any(_DEADLINE, plain)
    low = _any(_LOW, plain)
    explicit = _any(_EXPLICIT_CRITICAL, plain)
    data_risk = _any(_DATA_RISK, plain)

    def quoted(words: list[str]) -> str:
        return ", ".join(f'"{w}"' for w in words[:3])

    if security:
        return "critical", f"Possible security incident: {quoted(security)}"
    if explicit:
        return "critical", f"Marked critical by the sender: {quoted(explicit)}"
    if site or (many and blocked):
        return "critical", f"Many users or the business cannot work: {quoted(site + many + blocked)}"
    triggers = urgent + vip + deadline + blocked + many + data_risk
    if triggers:
        if low:
            return "medium", f"Impact {quoted(triggers)} but the requester says {quoted(low)}"
        return "high", f"Urgent or blocking: {quoted(triggers)}"
    if low:
        return "low", f"Requester says {quoted(low)}"
    return "medium", "One user affected; no urgency or business impact stated"


def _category_scores(subject: str, body: str) -> list[tuple[int, int, str]]:
    scores: list[tuple[int, int, str]] = []
    s_low, b_low = subject.lower(), body.lower()
    for order, (name, keywords) in enumerate(_CATEGORY_KEYWORDS):
        score = 0
        for keyword, weight in keywords:
            # The subject is what the requester thinks the problem is: it counts double.
            score += weight * (2 * s_low.count(keyword) + b_low.count(keyword))
        if score:
            scores.append((-score, order, name))
    return sorted(scores)


def _map_category(generic: str | None, categories: list[str]) -> str | None:
    if generic is None or not categories:
        return generic
    for synonym in _CATEGORY_SYNONYMS.get(generic, ()):
        for category in categories:
            if synonym in category.lower():
                return category
    return None


def _board(
    text: str, generic: str | None, priority: str, security_incident: bool, boards: list[str], server: bool = False
) -> str | None:
    if not boards:
        return None

    def named(*words: str) -> str | None:
        for word in words:
            for board in boards:
                if word in board.lower():
                    return board
        return None

    choice: str | None = None
    if security_incident:
        choice = named("security", "soc")
    elif _ONBOARDING_WORDS.search(text):
        choice = named("onboard", "starter", "hr", "moves")
    elif priority == "low" and _PROJECT_WORDS.search(text):
        choice = named("project")
    elif (
        (_INFRA_WORDS.search(text) and (priority == "critical" or generic in _INFRA_CATEGORIES))
        or (server and generic in _INFRA_CATEGORIES)
        or (generic in _INFRA_CATEGORIES and (priority == "critical" or _any(_MANY, _strip_quotes(text))))
    ):
        # Shared infrastructure (servers, sites, network gear, public certificates) goes to the
        # infrastructure team; one user's problem stays with the service desk.
        choice = named("infrastructure", "network", "noc", "operations", "server")
    return choice or named("service desk", "help desk", "helpdesk", "support", "service")


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]


def _subject(text: str) -> str | None:
    m = re.search(r"^Subject:\s*(.+)$", text, re.M | re.I)
    if not m:
        return None
    subject = m.group(1).strip()
    # Reply/forward and shouting prefixes are not part of the problem.
    while True:
        stripped = re.sub(
            r"^(?:(?:re|fw|fwd|urgent|asap|important)\s*[:!-]|\[[^\]]{1,20}\])\s*", "", subject, flags=re.I
        ).strip()
        if stripped == subject:
            break
        subject = stripped
    return subject or None


def _name_with_email(name: str | None, email: str | None) -> str | None:
    if name and email:
        return f"{name} <{email}>"
    return name or email


def _generic_sender(name: str) -> bool:
    """Shared and automated mailboxes ("Reception", "IT Alerts") are not people."""
    low = name.lower()
    return low in _GENERIC_MAILBOX_NAMES or bool(
        re.search(
            r"\b(?:alerts?|monitoring|notifications?|no-?reply|do not reply|mailer|system|service desk|"
            r"helpdesk|support|reception|admin)\b",
            low,
        )
    )


def _affected_user(text: str) -> str | None:
    explicit = (
        r"\b[Uu]ser(?: is|:)\s*(" + _NAME_RE + r"|[\w.+-]+@[\w.-]+\w)",
        # "user jbloggs" at the end of a line: a logon name.
        r"(?m)\b[Uu]ser(?:name)?(?: is|:)?\s+([a-z][a-z0-9._-]{2,30})\s*\.?\s*$",
        r"\b[Nn]ew (?:starter|hire|joiner)[,:]?\s+(" + _NAME_RE + r")",
        r"\b(" + _NAME_RE + r")['\u2019]s (?:laptop|pc|computer|desktop|account|machine|phone|mailbox)\b",
        r"(?m)^Caller:\s*(" + _NAME_RE + r")",
        r"\b[Cc]all from (" + _NAME_RE + r")",
        # A call log's first name: "Call notes: Paul from accounts ...", "Ticket raised by phone: Simon (...)".
        r"(?mi)^(?:call notes|phone call|ticket raised by phone|by phone)[^:\n]{0,20}:\s*(?-i:(" + _NAME_RE + r"))\b",
        # An alert about one user's sign-in names them by their address.
        r"(?i)\b(?:sign-?in|login|logon) (?:for|by|of) ([\w.+-]+@[\w.-]+\w)",
        # "hi its maria, ..." at the very start: the writer introduces themself.
        r"(?i)^\W*(?:(?:hi|hello|hey)\W+)?(?:it'?s|this is) ([a-z]+)\b(?! from)",
        r"\b(?:[Ii]t'?s|[Tt]his is) ([A-Za-z]+) from\b",
    )
    for pattern in explicit:
        for m in re.finditer(pattern, text):
            value = m.group(1).strip()
            if not _generic_sender(value) and value.split()[0].lower() not in _NOT_NAMES:
                return value
    header = re.search(r"^From:\s*\"?([^\"<\n]*?)\"?\s*<([^>\s]+@[^>\s]+)>", text, re.M | re.I)
    if header:
        name = header.group(1).strip() or None
        if name and not _generic_sender(name):
            return _name_with_email(name, header.group(2))
    sender_email = None
    if header and not _generic_sender(header.group(1).strip() or header.group(2)):
        sender_email = header.group(2)
    return _signature_name(text) or sender_email


def _signature_name(text: str) -> str | None:
    lines = [ln.strip() for ln in _lines(text)]
    # Only look at the sender's own part, not at a forwarded message below it.
    for idx, line in enumerate(lines):
        if re.match(r"^-{3,}.*(?:forwarded|original) message", line, re.I):
            lines = lines[:idx]
            break
    for idx in range(len(lines) - 1, -1, -1):
        line = lines[idx]
        if not line:
            continue
        signoff = _SIGNOFF_RE.match(line)
        if signoff:
            rest = signoff.group(1).strip(" ,")
            candidate = rest or next((ln for ln in lines[idx + 1 :] if ln), "")
            return _clean_name(candidate, lines[idx + 1 :])
        dash = re.match(r"^[-\u2013\u2014]\s*([A-Za-z][\w'\u2019 -]{0,40})$", line)
        if dash:
            return dash.group(1).strip()
    # No sign-off line: the last line may end with one ("... can someone look. thanks, dan").
    tail = [ln for ln in lines if ln]
    last = tail[-1] if tail else ""
    inline = re.search(r"[.!]\s+(?:thanks|thank you|cheers|ta)[,!]?\s+([A-Za-z][a-z]+)\W*$", last, re.I)
    if inline:
        return inline.group(1)
    # Or a short last line that looks like a name ("Priya").
    if tail and re.fullmatch(_NAME_RE, tail[-1]) and len(tail) > 1:
        return tail[-1]
    return None


def _clean_name(candidate: str, following: list[str]) -> str | None:
    name = re.split(r"\s*[|,(]\s*", candidate)[0].strip()
    if not re.fullmatch(_NAME_RE, name) or _generic_sender(name):
        return None
    email = next((ln for ln in following[:3] if _EMAIL_RE.fullmatch(ln.strip())), None)
    return _name_with_email(name, email.strip() if email else None)


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in _lines(text):
        stripped = line.strip()
        if not stripped or _HEADER_RE.match(stripped) or re.match(r"^-{3,}", stripped):
            continue
        if re.match(r"^(?:user|caller|ticket note)\b[^:]*:", stripped, re.I) and len(stripped) < 60:
            continue
        # Split after sentence punctuation, but not inside a quoted dialog text.
        parts = re.split(r'(?<=[.!?])\s+(?=(?:[^"]*"[^"]*")*[^"]*$)', stripped)
        out.extend(p.strip() for p in parts if p.strip())
    return out


def _symptoms(subject: str | None, text: str) -> list[str]:
    candidates = ([subject] if subject else []) + _sentences(text)
    out: list[str] = []
    for sentence in candidates:
        if _SIGNOFF_RE.match(sentence) or not _SYMPTOM_CUES.search(sentence):
            continue
        clean = _GREETING_RE.sub("", sentence).strip()
        clean = clamp_summary(clean, 200)
        if clean and clean not in out:
            out.append(clean)
        if len(out) == 6:
            break
    return out


def _summary(subject: str | None, symptoms: list[str], text: str) -> str:
    if subject:
        return clamp_summary(subject)
    source = symptoms[0] if symptoms else next(iter(_sentences(text)), text.strip())
    source = _GREETING_RE.sub("", source)
    # Call-note filler says nothing about the problem.
    source = re.sub(
        r"^(?:(?:user |caller )?(?:rang|called|phoned)(?: in)?(?: re| about| regarding)?\s+)", "", source, flags=re.I
    )
    if len(source) > 100:
        # Cut before a quoted dialog text: the summary names the problem, the error goes in error_messages.
        source = re.split(r'\s*[:,-]?\s*["“]', source)[0]
    return _short_title(source.rstrip(" .:;,\u2026"), text)


# Where a long sentence can end early and still say what the problem is.
_CLAUSE_BREAK_RE = re.compile(
    r",\s+|;\s+|\s+[-\u2013\u2014]\s+|\s+(?=(?:and|but|because|since|so|when|after|while)\s)", re.I
)


def _short_title(source: str, whole_text: str) -> str:
    """A summary that fits, preferably whole words of a whole clause rather than a sentence cut with "…".

    A long sentence is shortened to its leading clauses; when even the first clause is too
    long (or too short to name anything), the recognised problem's title is used, and only
    as a last resort the sentence is cut.
    """
    text = re.sub(r"\s+", " ", source).strip()
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    best = ""
    for match in _CLAUSE_BREAK_RE.finditer(text):
        head = text[: match.start()].rstrip(" .:;,")
        if len(head) > SUMMARY_MAX_CHARS:
            break
        best = head
    if len(best) >= 20:
        return best
    from flowpilot_offline.playbooks import find_playbook  # late: playbooks load a data file

    playbook = find_playbook(whole_text)
    if playbook is not None:
        return playbook.title
    return clamp_summary(text)


def _description(text: str) -> str:
    kept = [ln for ln in _lines(text) if not _HEADER_RE.match(ln.strip())]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def parse_ticket_text(text: str, taxonomy: Mapping[str, Any] | None = None) -> TicketDraft:
    """Build a ticket draft from ``text`` with deterministic rules (see the module docstring)."""
    tax = normalise_taxonomy(taxonomy)
    subject = _subject(text)
    body = _description(text)
    plain = _strip_quotes(text)
    scores = _category_scores(subject or "", _strip_quotes(body))
    generic = scores[0][2] if scores else None
    category = _map_category(generic, tax.get("categories", []))
    priority, reason = _priority(text)
    security_incident = bool(_any(_SECURITY_INCIDENT, plain))
    devices = find_devices(text)
    symptoms = _symptoms(subject, body)
    return TicketDraft(
        summary=_summary(subject, symptoms, body),
        description=body,
        category=category,
        priority=priority,
        priority_reason=reason,
        affected_user=_affected_user(text),
        affected_device=devices[0] if devices else None,
        symptoms=symptoms,
        error_messages=extract_error_messages(text),
        suggested_board=_board(
            text,
            generic,
            priority,
            security_incident,
            tax.get("boards", []),
            server=any(_SERVER_NAME_RE.search(d) for d in devices),
        ),
    )
