"""Readers for the real output formats of common Windows troubleshooting tools.

Each reader recognises one tool's own output (not a technician's summary of it) and states
what it shows in one plain sentence, keeping names, numbers and codes exactly; it returns
``None`` for anything else. ``read_tool_output`` tries them in turn. Text that no reader
recognises (a remark, a placeholder, "done", a custom table) yields no fact.

Covered: Test-NetConnection (full and ``-InformationLevel Quiet``), Get-Service (table,
selected columns, list), ipconfig, nslookup, Resolve-DnsName, ping, w32tm (``/query
/status``, ``/stripchart``, its error line), Get-PSDrive, Get-WinEvent and Get-EventLog
rows (and "no events were found"), manage-bde -status, dsregcmd /status, net use,
Test-ComputerSecureChannel.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["read_tool_output"]

_PS_ERROR_RE = re.compile(r"CategoryInfo\s*:|FullyQualifiedErrorId\s*:|^At line:\d+", re.M)
_KV_RE = re.compile(r"^\s*([A-Za-z][\w ()/.-]*?)\s*:\s?(.*?)\s*$")
_DOTTED_KV_RE = re.compile(r"^\s*([A-Za-z][\w ()/.-]*?)[ .]*\. :\s*(.*?)\s*$")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


_TOOL_NAMES = {"dsregcmd", "w32tm", "net", "nslookup", "ipconfig", "ping", "manage-bde"}


def _sentence(text: str) -> str:
    """One sentence; only an ordinary first word is capitalised (never a host or tool name)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = text if text.endswith(".") else text + "."
    first = text.split(" ", 1)[0]
    return text if first in _TOOL_NAMES or not first.isalpha() else _cap(text)


def _kv_blocks(output: str) -> list[dict[str, str]]:
    """``Name : value`` blocks separated by blank lines (PowerShell list format), keys lower-cased."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in output.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        m = _KV_RE.match(line)
        if m:
            current[m.group(1).strip().lower()] = m.group(2).strip()
    if current:
        blocks.append(current)
    return blocks


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ---- Test-NetConnection ------------------------------------------------------------------


def _tnc_block(kv: dict[str, str]) -> str | None:
    target = kv.get("computername")
    if not target:
        return None
    address = kv.get("remoteaddress", "")
    where = f"{target} ({address})" if address and address != target else target
    if "tcptestsucceeded" in kv and "remoteport" in kv:
        ok = kv["tcptestsucceeded"].lower() == "true"
        return f"the TCP connection to {where} on port {kv['remoteport']} {'succeeded' if ok else 'failed'}"
    if "pingsucceeded" in kv:
        ok = kv["pingsucceeded"].lower() == "true"
        rtt = kv.get("pingreplydetails (rtt)", "")
        timing = f" ({rtt})" if ok and rtt else ""
        return f"the ping to {where} {'succeeded' if ok else 'failed'}{timing}"
    return None


def _test_netconnection(output: str, command: str) -> str | None:
    parts = [p for p in (_tnc_block(kv) for kv in _kv_blocks(output)) if p]
    if parts and len(parts) <= 3:
        return _sentence("Test-NetConnection: " + "; ".join(parts))
    return None


def _test_netconnection_quiet(output: str, command: str) -> str | None:
    """``Test-NetConnection -InformationLevel Quiet`` prints only True or False."""
    if not re.search(r"Test-NetConnection\b", command, re.I) or not re.search(
        r"-InformationLevel\s+Quiet", command, re.I
    ):
        return None
    value = output.strip()
    if value not in ("True", "False"):
        return None
    target = re.search(r"-ComputerName\s+([\w.-]+)\b(?!\S)", command, re.I) or re.search(
        r"Test-NetConnection\s+([\w.-]+)\b(?!\S)", command, re.I
    )
    if target is None or target.group(1).startswith("-"):
        return None  # the target is a variable or a pipeline: the output does not say which host
    port = re.search(r"-Port\s+(\d+)", command, re.I)
    what = (
        f"the TCP connection to {target.group(1)} on port {port.group(1)}" if port else f"the ping to {target.group(1)}"
    )
    return _sentence(f"{what} {'succeeded' if value == 'True' else 'failed'}")


# ---- Get-Service --------------------------------------------------------------------------

_STATUS = {
    "running": "running", "stopped": "stopped", "paused": "paused", "startpending": "starting",
    "stoppending": "stopping", "continuepending": "resuming", "pausepending": "pausing",
}  # fmt: skip


def _service_phrase(name: str, display: str, status: str, start_type: str) -> str:
    label = f"the {display} service ({name})" if display and display != name else f"the {name} service"
    start = f", start type {start_type}" if start_type else ""
    return f"{label} is {_STATUS[status.lower()]}{start}"


def _table(output: str) -> tuple[list[str], list[list[str]]] | None:
    """A whitespace-aligned table: header row, dashes row, data rows.

    Rows are split on whitespace, the last column taking the rest of the line (display
    names, messages); a row with fewer cells than headers keeps its cells in order.
    """
    lines = output.splitlines()
    for i in range(len(lines) - 1):
        dashes = lines[i + 1]
        if not dashes.strip() or not re.fullmatch(r"[\s-]+", dashes):
            continue
        widths = re.findall(r"-+", dashes)
        headers = re.sub(r"(\w) \((\w+)\)", r"\1_(\2)", lines[i]).split()  # "Used (GB)" is one column
        if len(widths) < 2 or len(headers) != len(widths):
            continue
        rows: list[list[str]] = []
        for row in lines[i + 2 :]:
            if not row.strip():
                if rows:
                    break
                continue
            rows.append(row.split(None, len(headers) - 1))
        return headers, rows
    return None


def _service_name(command: str) -> str:
    """The one service a ``Get-Service -Name X`` command asked for (no wildcard), else ''."""
    m = re.search(r"Get-Service\s+(?:-Name\s+)?'?([\w.-]+)'?(?=\s|\||$)", command, re.I)
    return m.group(1) if m and not m.group(1).startswith("-") else ""


def _get_service(output: str, command: str) -> str | None:
    table = _table(output)
    if table is not None:
        headers, rows = table
        cols = {h.lower(): n for n, h in enumerate(headers)}
        if (
            "status" in cols
            and rows
            and len(rows) <= 3
            and ("name" in cols or re.search(r"Get-Service", command, re.I))
        ):
            phrases = []
            for row in rows:
                if len(row) != len(headers):
                    return None
                status = row[cols["status"]]
                if status.lower() not in _STATUS:
                    return None
                display = row[cols["displayname"]] if "displayname" in cols else ""
                start = row[cols["starttype"]] if "starttype" in cols else ""
                name = row[cols["name"]] if "name" in cols else _service_name(command)
                if not name:
                    return None
                phrases.append(_service_phrase(name, display, status, start))
            return _sentence("; ".join(phrases))
        return None
    blocks = [b for b in _kv_blocks(output) if "status" in b and "name" in b]
    if blocks and len(blocks) <= 3 and all(b["status"].lower() in _STATUS for b in blocks):
        return _sentence(
            "; ".join(
                _service_phrase(b["name"], b.get("displayname", ""), b["status"], b.get("starttype", ""))
                for b in blocks
            )
        )
    return None


# ---- ipconfig -----------------------------------------------------------------------------


def _ipconfig(output: str, command: str) -> str | None:
    if not re.search(r"^\S.* adapter .+:\s*$", output, re.M):
        return None
    parts = []
    for block in re.split(r"^(?=\S.* adapter .+:\s*$)", output, flags=re.M)[1:]:
        header = re.match(r"^(\S.*?) adapter (.+?):\s*$", block, re.M)
        assert header is not None
        name = header.group(2)
        values: dict[str, list[str]] = {}
        key = ""
        for line in block.splitlines()[1:]:
            m = _DOTTED_KV_RE.match(line)
            if m:
                key = m.group(1).strip().lower()
                values[key] = [m.group(2)] if m.group(2) else []
            elif key and line.strip() and re.fullmatch(r"\s+[0-9a-fA-F:.%]+", line):
                values[key].append(line.strip())  # continuation line (a second DNS server)
        if any("media disconnected" in v.lower() for v in values.get("media state", [])):
            parts.append(f"the {name} adapter is disconnected (media disconnected)")
            continue
        ipv4 = next((v for v in values.get("ipv4 address", []) if v), "")
        auto = next((v for v in values.get("autoconfiguration ipv4 address", []) if v), "")
        gateway = next((v for v in values.get("default gateway", []) if re.match(r"\d+\.", v)), "")
        dns = [v for v in values.get("dns servers", []) if re.match(r"\d+\.", v)]
        gateway_text = f"default gateway {gateway}" if gateway else "no default gateway"
        dns_text = f" and DNS servers {', '.join(dns)}" if dns else ""
        if ipv4:
            address = re.sub(r"\(Preferred\)$", "", ipv4)
            parts.append(f"the {name} adapter has IPv4 address {address}, {gateway_text}{dns_text}")
        elif auto:
            address = re.sub(r"\(Preferred\)$", "", auto)
            parts.append(f"the {name} adapter has only the self-assigned address {address} and {gateway_text}")
    if not parts or len(parts) > 2:
        return None
    return _sentence("; ".join(parts))


# ---- nslookup and Resolve-DnsName ---------------------------------------------------------


def _nslookup(output: str, command: str) -> str | None:
    server = re.search(r"^Server:\s*(\S+)\s*\nAddress:\s*([0-9a-fA-F:.#]+)", output, re.M)
    if server is None:
        return None
    server_name, server_address = server.group(1), server.group(2).split("#")[0]
    server_text = server_address if server_name.lower() == "unknown" else f"{server_name} at {server_address}"
    missing = re.search(r"^\*\*\* \S+ can't find (\S+?):\s*(.+?)\s*$", output, re.M)
    if missing:
        return _sentence(
            f"the name {missing.group(1)} does not resolve: DNS server {server_text} answered {missing.group(2)}"
        )
    if re.search(r"DNS request timed out|Request to \S+ timed-out", output):
        return _sentence(f"DNS requests to {server_text} timed out")
    after = output[server.end() :]
    name = re.search(r"^Name:\s*(\S+)", after, re.M)
    if name is None:
        return None
    rest = after[name.end() :]
    block = re.match(r"\s*\nAddress(?:es)?:\s*(\S+)\s*((?:\n[ \t]+\S+\s*)*)", rest)
    if block is None:
        return None
    addresses = [block.group(1), *block.group(2).split()]
    addresses = [a for a in addresses if re.fullmatch(r"[0-9a-fA-F:.]+", a)]
    if not addresses:
        return None
    shown = ", ".join(addresses[:4])
    return _sentence(f"the name {name.group(1)} resolves to {shown}, according to DNS server {server_text}")


def _resolve_dnsname(output: str, command: str) -> str | None:
    missing = re.match(r"\s*Resolve-DnsName : (\S+) : DNS name does not exist", output)
    if missing:
        return _sentence(f"Resolve-DnsName reports that {missing.group(1)} does not exist in DNS")
    table = _table(output)
    if table is None:
        return None
    headers, rows = table
    cols = {h.lower(): n for n, h in enumerate(headers)}
    if not {"name", "type", "ipaddress"} <= cols.keys():
        return None
    found: dict[str, list[str]] = {}
    for row in rows:
        if len(row) == len(headers) and row[cols["type"]] in ("A", "AAAA") and row[cols["ipaddress"]]:
            found.setdefault(row[cols["name"]], []).append(row[cols["ipaddress"]])
    if len(found) != 1:
        return None
    name, addresses = next(iter(found.items()))
    return _sentence(f"the name {name} resolves to {', '.join(addresses[:4])}")


# ---- ping ---------------------------------------------------------------------------------


def _ping(output: str, command: str) -> str | None:
    m = re.search(r"Ping request could not find host (\S+?)\.\s", output + " ")
    if m:
        return _sentence(f"ping could not find the host {m.group(1)}: the name did not resolve")
    target = re.search(r"Ping statistics for ([^\s:]+):", output)
    stats = re.search(r"Sent = (\d+), Received = (\d+), Lost = (\d+) \((\d+)% loss\)", output)
    if target and stats:
        sent, received, _lost, loss = stats.groups()
        return _sentence(f"ping to {target.group(1)}: {sent} sent, {received} received ({loss}% loss)")
    return None


# ---- w32tm --------------------------------------------------------------------------------


def _w32tm(output: str, command: str) -> str | None:
    error = re.match(r"\s*The following error occurred: (.+?)\s*$", output, re.M)
    if error and re.search(r"w32tm", command, re.I):
        return _sentence(f"w32tm could not query the Windows Time service: {error.group(1)}")
    tracking = re.search(r"^Tracking (\S+) \[([^\]]+)\]\.", output, re.M)
    if tracking:
        offsets = re.findall(r"^\d\d:\d\d:\d\d, ([+-]\d+(?:\.\d+)?)s", output, re.M)
        if not offsets:
            return None
        return _sentence(
            f"w32tm measured a time offset of {offsets[-1]}s against {tracking.group(1)} ({tracking.group(2)})"
        )
    if not re.search(r"^Leap Indicator:", output, re.M):
        return None
    kv = {k: v for b in _kv_blocks(output) for k, v in b.items()}
    source = kv.get("source")
    if not source:
        return None
    last = kv.get("last successful sync time", "")
    if not last or last.lower() == "unspecified":
        tail = "; no successful sync is recorded"
    else:
        tail = f"; last successful sync {last}"
    return _sentence(f"the Windows Time source is {source}{tail}")


# ---- Get-PSDrive ----------------------------------------------------------------------------


def _get_psdrive(output: str, command: str) -> str | None:
    table = _table(output)
    if table is None:
        return None
    headers, rows = table
    cols = {h.lower(): n for n, h in enumerate(headers)}
    if not {"name", "used_(gb)", "free_(gb)"} <= cols.keys():
        return None
    parts = []
    for row in rows:
        if len(row) < 3:
            continue
        used, free = row[cols["used_(gb)"]], row[cols["free_(gb)"]]
        if re.fullmatch(r"\d+(?:\.\d+)?", free) and re.fullmatch(r"\d+(?:\.\d+)?", used):
            parts.append(f"drive {row[cols['name']]}: has {free} GB free ({used} GB used)")
    if not parts or len(parts) > 4:
        return None
    return _sentence("; ".join(parts))


# ---- event logs -------------------------------------------------------------------------------


def _first_sentence(message: str) -> str:
    text = re.sub(r"\.{3,}$", "", message.strip()).strip()
    return re.split(r"(?<=\.)\s", text)[0].rstrip(".").strip()


def _get_winevent(output: str, command: str) -> str | None:
    if re.search(r"No events were found that match the specified selection criteria", output):
        asked_id = re.search(r"\bId\s*=\s*(\d+)", command)
        log = re.search(r"LogName\s*=\s*'?([\w-]+)", command)
        what = f"event {asked_id.group(1)}" if asked_id else "matching events"
        where = f" in the {log.group(1)} log" if log else ""
        return _sentence(f"Get-WinEvent found no {what}{where}")
    rows: list[tuple[str, str, str, str]] = []
    for line in output.splitlines():
        m = re.match(
            r"^(\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4} \d{1,2}:\d\d(?::\d\d)?(?: [AP]M)?)\s+(\d+)\s+"
            r"(Error|Warning|Information|Critical|Verbose)\s+(.*)$",
            line.strip(),
        )
        if m:
            rows.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    if not rows or not re.search(r"^TimeCreated\s+Id\s+LevelDisplayName\s+Message", output, re.M):
        return None
    ids = sorted({r[1] for r in rows}, key=lambda i: [r[1] for r in rows].index(i))
    if len(ids) == 1:
        when, event_id, level, text = rows[0]
        times = "once" if len(rows) == 1 else f"{len(rows)} times"
        return _sentence(
            f"event {event_id} ({level}) was logged {times}, most recently at {when}: {_first_sentence(text)}"
        )
    if len(ids) > 3:
        return None
    listed = [f"event {r[1]} ({r[2]}) at {r[0]}" for r in rows[:3]]
    return _sentence(f"the newest events listed are {_join(listed)}")


def _get_eventlog(output: str, command: str) -> str | None:
    if not re.search(r"^\s*Index\s+Time\s+EntryType\s+Source\s+InstanceID\s+Message", output, re.M):
        return None
    rows = re.findall(
        r"^\s*\d+\s+(\w{3} \d\d \d\d:\d\d)\s+(Error|Warning|Information|FailureAudit|SuccessAudit)"
        r"\s+.+?\s+(\d+)\s+(.+)$",
        output,
        re.M,
    )
    if not rows:
        return None
    messages = {_first_sentence(r[3]) for r in rows}
    if len(messages) != 1:
        return None
    when, entry_type = rows[0][0], rows[0][1]
    count = "1 entry" if len(rows) == 1 else f"{len(rows)} entries"
    return _sentence(f"the event log shows {count} of type {entry_type}, newest {when}: {next(iter(messages))}")


# ---- BitLocker, device join, mapped drives, secure channel ------------------------------------


def _manage_bde(output: str, command: str) -> str | None:
    volume = re.search(r"^Volume (\S+)", output, re.M)
    if volume is None or "BitLocker Drive Encryption" not in output:
        return None
    kv = {k: v for b in _kv_blocks(output) for k, v in b.items()}
    found = [(k, kv[k]) for k in ("conversion status", "protection status", "lock status") if kv.get(k)]
    if not found:
        return None
    return _sentence(f"BitLocker on volume {volume.group(1)} reports " + ", ".join(f"{k} {v}" for k, v in found))


def _dsregcmd(output: str, command: str) -> str | None:
    if "Device State" not in output and "dsregcmd" not in command.lower():
        return None
    kv = {k: v for b in _kv_blocks(output) for k, v in b.items()}
    wanted = [("azureadjoined", "AzureAdJoined"), ("domainjoined", "DomainJoined"), ("azureadprt", "AzureAdPrt")]
    found = [(label, kv[key]) for key, label in wanted if kv.get(key) in ("YES", "NO")]
    if not found:
        return None
    return _sentence("dsregcmd /status reports " + ", ".join(f"{k} {v}" for k, v in found))


def _net_use(output: str, command: str) -> str | None:
    if "New connections will" not in output and not re.search(r"^Status\s+Local\s+Remote", output, re.M):
        return None
    rows = re.findall(r"^(OK|Unavailable|Disconnected|Reconnecting)?\s+([A-Z]:)\s+(\\\\\S+)", output, re.M)
    if not rows or len(rows) > 4:
        return None
    parts = [f"{drive} ({remote}) as {status or 'without a status'}" for status, drive, remote in rows]
    return _sentence("net use shows " + _join(parts))


def _net_use_error(output: str, command: str) -> str | None:
    m = re.search(r"System error (\d+) has occurred\.\s+(.+?)\s*$", output, re.M | re.S)
    if m is None or not re.search(r"\bnet\s+use\b", output + " " + command, re.I):
        return None
    message = m.group(2).strip().splitlines()[0].rstrip(".")
    return _sentence(f"net use failed with system error {m.group(1)}: {message}")


def _secure_channel(output: str, command: str) -> str | None:
    if not re.search(r"Test-ComputerSecureChannel", command, re.I):
        return None
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.strip().startswith("VERBOSE:")]
    if lines not in (["True"], ["False"]):
        return None
    state = "is intact" if lines[0] == "True" else "is broken"
    return _sentence(
        f"Test-ComputerSecureChannel reports that this computer's secure channel to the domain {state} ({lines[0]})"
    )


_AD_FLAGS = {
    "lockedout": ("the account is locked out", "the account is not locked out"),
    "passwordexpired": ("its password has expired", "its password has not expired"),
    "enabled": ("the account is enabled", "the account is disabled"),
}


def _get_aduser(output: str, command: str) -> str | None:
    if not re.search(r"Get-ADUser", command, re.I):
        return None
    blocks = _kv_blocks(output)
    if len(blocks) != 1:
        return None
    kv = blocks[0]
    parts = []
    for key, (yes, no) in _AD_FLAGS.items():
        if kv.get(key) in ("True", "False"):
            label = next(k for k in ("LockedOut", "PasswordExpired", "Enabled") if k.lower() == key)
            parts.append(f"{yes if kv[key] == 'True' else no} ({label} {kv[key]})")
    if kv.get("badlogoncount", "").isdigit():
        parts.append(f"BadLogonCount is {kv['badlogoncount']}")
    if kv.get("passwordlastset"):
        parts.append(f"the password was last set {kv['passwordlastset']}")
    if not parts:
        return None
    return _sentence(f"Get-ADUser shows {_join(parts)}")


def _get_bitlockervolume(output: str, command: str) -> str | None:
    table = _table(output)
    if table is None:
        return None
    headers, rows = table
    cols = {h.lower(): n for n, h in enumerate(headers)}
    if not {"mountpoint", "protectionstatus"} <= cols.keys() or len(rows) != 1 or len(rows[0]) != len(headers):
        return None
    row = rows[0]
    status = f", volume status {row[cols['volumestatus']]}" if "volumestatus" in cols else ""
    return _sentence(f"BitLocker protection on {row[cols['mountpoint']]} is {row[cols['protectionstatus']]}{status}")


# Order matters only where formats could overlap: specific formats first.
_READERS: tuple[Callable[[str, str], str | None], ...] = (
    _resolve_dnsname,
    _get_winevent,
    _get_eventlog,
    _w32tm,
    _test_netconnection_quiet,
    _secure_channel,
    _test_netconnection,
    _get_service,
    _get_psdrive,
    _ipconfig,
    _nslookup,
    _ping,
    _manage_bde,
    _get_bitlockervolume,
    _get_aduser,
    _dsregcmd,
    _net_use,
    _net_use_error,
)
# Readers that understand a PowerShell error record of their own tool (not found, no events).
_ERROR_READERS = (_resolve_dnsname, _get_winevent)


def read_tool_output(output: str, command: str = "") -> tuple[str, str] | None:
    """``(fact, reader name)`` for output a reader recognises, else ``None``."""
    text = output.replace("\r\n", "\n")
    if not text.strip():
        return None
    readers = _ERROR_READERS if _PS_ERROR_RE.search(text) else _READERS
    for reader in readers:
        fact = reader(text, command)
        if fact:
            return fact, reader.__name__.lstrip("_")
    return None
