"""Finding the literals of a concrete script that belong to one ticket, not to the fix.

A host name, an address, a user, a mailbox, a printer or a share, a user's path, a GUID
and anything in a password position are what changes from one ticket to the next; service
names, switches, system paths and numbers are what the fix *is*. Each rule reads a literal
together with where it stands (:mod:`flowpilot_core.scripts.tokens`): its command, the
option before it, the variable it is assigned to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from flowpilot_core.scripts.schema import Language, ParameterType
from flowpilot_core.scripts.tokens import Token
from flowpilot_core.scripts.values import is_email, is_hostname

GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_EMAIL_IN = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DOMAIN_USER = re.compile(r"^[A-Za-z][\w.-]{0,30}\\[A-Za-z][\w.$-]{0,63}$")
_USER_NAME = re.compile(r"^[A-Za-z][\w.'-]{1,63}$")
_NETBIOS = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$|^[A-Z]{2,}[A-Z0-9]*\d{2,}$")
_NOT_HOSTS = frozenset(
    [
        "SHA1",
        "SHA256",
        "SHA384",
        "SHA512",
        "MD5",
        "TLS12",
        "TLS13",
        "UTF8",
        "UTF16",
        "UTF32",
        "X64",
        "X86",
        "AES128",
        "AES256",
        "WIN32",
        "WIN64",
        "IPV4",
        "IPV6",
        "HTTP11",
        "HTTP2",
        "DES3",
        "RC4",
        "RSA2048",
        "RSA4096",
        "ISO8859",
    ]
)
_FILE_EXTENSIONS = frozenset(
    [
        "ps1",
        "psm1",
        "psd1",
        "exe",
        "dll",
        "msi",
        "msu",
        "cab",
        "txt",
        "log",
        "csv",
        "json",
        "xml",
        "ini",
        "cfg",
        "conf",
        "config",
        "sh",
        "py",
        "bat",
        "cmd",
        "zip",
        "gz",
        "tar",
        "7z",
        "iso",
        "vhd",
        "vhdx",
        "ost",
        "pst",
        "reg",
        "pfx",
        "cer",
        "crt",
        "pem",
        "key",
        "ppd",
        "inf",
        "sys",
        "lnk",
        "url",
        "html",
        "htm",
        "js",
        "dat",
        "bak",
        "old",
        "tmp",
        "yml",
        "yaml",
        "md",
        "rtf",
        "docx",
        "xlsx",
        "pdf",
    ]
)
_SYSTEM_WINDOWS = re.compile(
    r"^(?:[A-Za-z]:\\(?:Windows|Program Files(?: \(x86\))?|ProgramData|PerfLogs|Recovery)\b|%[A-Za-z]+%|\$env:)", re.I
)
_USER_POSIX = re.compile(r"^/(?:home|srv|mnt|media|data|Users|export|share)/[^/\s]+")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:\\")
_UNC = re.compile(r"^\\\\[A-Za-z0-9][\w.-]*\\[^\\\s]+")
_SMB_POSIX = re.compile(r"^//[A-Za-z0-9][\w.-]*/[^/\s]+")

HOST_OPTIONS = frozenset(
    [
        "computername",
        "cimsession",
        "server",
        "hostname",
        "computer",
        "host",
        "printerhostaddress",
        "destination",
        "targetname",
        "dnsname",
        "remotecomputer",
        "servername",
        "computernames",
        "domaincontroller",
        "h",
    ]
)
USER_OPTIONS = frozenset(
    [
        "identity",
        "user",
        "username",
        "samaccountname",
        "userid",
        "userprincipalname",
        "member",
        "members",
        "owner",
        "account",
        "delegate",
        "trustee",
        "upn",
        "u",
        "mailbox",
        "emailaddress",
        "recipient",
    ]
)
SECRET_OPTIONS = frozenset(
    [
        "password",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "accountpassword",
        "newpassword",
        "clientsecret",
        "passphrase",
        "p12password",
    ]
)
SECRET_VARIABLE = re.compile(r"pass(?:word)?|pwd|secret|token|api_?key|cred", re.I)
HOST_VARIABLE = re.compile(r"computer|host|server|machine|device|fqdn", re.I)
BASH_USER_COMMANDS = frozenset(["useradd", "usermod", "userdel", "passwd", "chage", "id", "su", "deluser", "adduser"])
BASH_PRINTER_COMMANDS = frozenset(["cupsenable", "cupsdisable", "cupsaccept", "cupsreject"])


@dataclass(frozen=True)
class Literal_:
    """One literal found in a token's value: ``value[start:end]``."""

    start: int
    end: int
    type: ParameterType
    hint: str
    """What kind of thing it is; the parameter's name when no variable names it."""
    pattern: str | None = None

    @property
    def sensitive(self) -> bool:
        return self.type == "secret"


def _whole(value: str, type_: ParameterType, hint: str, pattern: str | None = None) -> list[Literal_]:
    return [Literal_(0, len(value), type_, hint, pattern)]


def _looks_like_fqdn(text: str) -> bool:
    if text.count(".") < 1 or not is_hostname(text):
        return False
    if any(label != label.lower() and label != label.upper() for label in text.split(".")):
        return False  # CamelCase labels are identifiers (scopes, .NET types), not host names
    labels = text.lower().split(".")
    tld = labels[-1]
    return tld.isalpha() and len(tld) >= 2 and tld not in _FILE_EXTENSIONS and not all(len(x) == 1 for x in labels)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _embedded(value: str) -> list[Literal_]:
    found: list[Literal_] = []
    for match in _EMAIL_IN.finditer(value):
        if is_email(match.group(0)):
            found.append(Literal_(match.start(), match.end(), "email_upn", "email"))
    for match in GUID.finditer(value):
        found.append(Literal_(match.start(), match.end(), "string", "guid", GUID_PATTERN))
    for match in _IPV4.finditer(value):
        if _is_ip(match.group(0)) and not any(f.start <= match.start() < f.end for f in found):
            found.append(Literal_(match.start(), match.end(), "ip", "ip_address"))
    return sorted(found, key=lambda f: f.start)


def find_literals(token: Token, language: Language) -> list[Literal_]:
    """The literals of one token worth a parameter (none for most tokens)."""
    if token.is_command:
        return []
    value = token.value
    text = value.strip()
    if not text or text.startswith("$") or (token.kind == "word" and text.startswith("-")):
        return []
    option = token.option or ""
    command = (token.command or "").lower()
    variable = token.variable or ""
    if (
        option in SECRET_OPTIONS
        or (variable and SECRET_VARIABLE.search(variable))
        or command == "convertto-securestring"
    ):
        return _whole(value, "secret", "password")
    if language == "bash" and token.kind == "word" and "=" in value and not variable:
        # key=value options (mount -o username=jdoe,password=x): each value read with its key as the option
        found: list[Literal_] = []
        for pair in re.finditer(r"([A-Za-z][\w-]*)=([^,=]*)", value):
            inner = Token(token.kind, token.start, token.end, pair.group(2), token.command, pair.group(1).lower(), None)
            offset = pair.start(2)
            found.extend(
                Literal_(f.start + offset, f.end + offset, f.type, f.hint, f.pattern)
                for f in find_literals(inner, language)
            )
        return found
    if is_email(text):
        return _whole(value, "email_upn", "mailbox" if "mailbox" in command else "email")
    if GUID.fullmatch(text):
        return _whole(value, "string", "guid", GUID_PATTERN)
    if _is_ip(text):
        return _whole(value, "ip", "ip_address")
    if _UNC.match(text) or _SMB_POSIX.match(text):
        printer = "printer" in command or option in ("connectionname", "printername")
        return _whole(value, "path", "printer_path" if printer else "share_path")
    if _WINDOWS_PATH.match(text):
        return [] if _SYSTEM_WINDOWS.match(text) else _whole(value, "path", "path")
    if _USER_POSIX.match(text):
        return _whole(value, "path", "path")
    if _DOMAIN_USER.match(text):
        return _whole(value, "string", "user_name")
    host_context = option in HOST_OPTIONS or bool(variable and HOST_VARIABLE.search(variable))
    if host_context and is_hostname(text):
        return _whole(value, "hostname", "computer_name")
    if _looks_like_fqdn(text):
        return _whole(value, "hostname", "host_name")
    if _NETBIOS.match(text) and text not in _NOT_HOSTS and is_hostname(text):
        return _whole(value, "hostname", "computer_name")
    if "printer" in command and option in ("name", "printername", "p"):
        return _whole(value, "string", "printer_name")
    if language == "bash" and (
        (command in ("lpadmin", "lpstat", "lpoptions") and option == "p")
        or (command == "lp" and option == "d")
        or command in BASH_PRINTER_COMMANDS
    ):
        return _whole(value, "string", "printer_name")
    if "smbshare" in command and option == "name":
        return _whole(value, "string", "share_name")
    if language == "bash" and command in BASH_USER_COMMANDS and not option and _USER_NAME.match(text):
        return _whole(value, "string", "user_name")
    if option in USER_OPTIONS and _USER_NAME.match(text):
        if "group" in command and option == "identity":
            return _whole(value, "string", "group_name")
        return _whole(value, "string", "mailbox" if "mailbox" in command else "user_name")
    if option in ("groupname", "group") and _USER_NAME.match(text):
        return _whole(value, "string", "group_name")
    return _embedded(value)
