"""PSA engine: the provider protocol, its error tree, and the account's PSA connections."""

from flowpilot_core.psa.connections import (
    CreatePsaConnection,
    PsaConnectionOut,
    StatusMapping,
    connection_for,
    create_connection,
    delete_connection,
    get_connection_row,
    list_connections,
    open_provider,
)
from flowpilot_core.psa.errors import (
    PSAAuthFailed,
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSATransient,
)
from flowpilot_core.psa.provider import (
    HostedMember,
    HostedMemberVerifier,
    NoteKind,
    PSANote,
    PSAProvider,
    PSAStatus,
    PSATicket,
)

__all__ = [
    "CreatePsaConnection",
    "HostedMember",
    "HostedMemberVerifier",
    "NoteKind",
    "PSAAuthFailed",
    "PSAError",
    "PSANotFound",
    "PSANote",
    "PSAPermanent",
    "PSAPermissionDenied",
    "PSAProvider",
    "PSARateLimited",
    "PSAStatus",
    "PSATicket",
    "PSATransient",
    "PsaConnectionOut",
    "StatusMapping",
    "connection_for",
    "create_connection",
    "delete_connection",
    "get_connection_row",
    "list_connections",
    "open_provider",
]
