"""``flowpilot psa``: an account's PSA connections from the command line (add, list, test, update, remove).

Works for any PSA provider a plugin registers (``flowpilot plugins list`` shows them). The
config goes in as JSON, best from a file (``--config @cw.json``) so that no key lands in
the shell's history; it is validated by the provider and stored encrypted, and no command
ever prints it. Connections are named by their name, within one account: ``--account``,
or the demo account when ``flowpilot demo`` has run in this data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import msgspec

from flowpilot_core.config import Settings


def _cli() -> Any:
    from flowpilot_server import cli  # cli imports this module to build its parser: import it back lazily

    return cli


def _account(settings: Settings, value: str | None) -> uuid.UUID:
    cli = _cli()
    if value:
        account: uuid.UUID = cli._uuid(value, "account id")
        return account
    demo = settings.data_dir / "demo.json"
    if demo.is_file():
        try:
            account_id = uuid.UUID(json.loads(demo.read_text())["account_id"])
        except (ValueError, KeyError, TypeError):
            account_id = None
        if account_id is not None:
            cli._progress(f"Using the demo account {account_id} (--account chooses another)")
            return account_id
    raise cli.CLIError("name the account: --account ID (flowpilot accounts create prints it)")


def _config(value: str) -> dict[str, Any]:
    """``--config``: JSON text, ``@path`` to a JSON file, or ``@-`` for standard input."""
    cli = _cli()
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise cli.CLIError(f"--config: cannot read {source}: {exc.strerror or exc}") from None
    else:
        text = value
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the text may hold a credential.
        raise cli.CLIError(f"--config is not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(config, dict):
        raise cli.CLIError("--config must be a JSON object")
    return config


_ARGUMENT_OF = {"statuses.resolved": "--resolved", "statuses.escalated": "--escalated", "name": "NAME",
               "provider": "PROVIDER"}  # fmt: skip


def _invalid(exc: msgspec.ValidationError) -> str:
    """msgspec's message, naming the command-line argument rather than the body field."""
    message, _, where = str(exc).partition(" - at `$.")
    where = where.rstrip("`")
    return f"{_ARGUMENT_OF.get(where, where or 'input')}: {message.replace('`', '')}"


def _providers() -> Any:
    from flowpilot_core.plugins import collect, load_plugins

    load_plugins()
    return collect().psa_providers


def _statuses_text(statuses: Any) -> str:
    escalated = statuses.escalated if statuses.escalated is not None else "(left as it is)"
    return f"resolved → {statuses.resolved}, escalated → {escalated}"


async def _run(settings: Settings, urls: Any, args: argparse.Namespace) -> None:
    from flowpilot_core import psa
    from flowpilot_core.db.engine import create_engine, make_sessionmaker, tenant_session

    cli = _cli()
    await cli._require_migrated(urls)
    account_id = _account(settings, args.account)
    secret_key = settings.secret_key or ""
    engine = create_engine(urls.app)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with tenant_session(sessionmaker, account_id) as db:
            if args.psa_command == "list":
                _print_list(await psa.list_connections(db, account_id, secret_key), as_json=args.json)
                return
            if args.psa_command == "add":
                try:
                    body = msgspec.convert(
                        {"provider": args.provider, "name": args.name, "config": _config(args.config),
                         "statuses": {"resolved": args.resolved, "escalated": args.escalated},
                         "is_default": bool(args.default)},
                        psa.CreatePsaConnection,
                    )  # fmt: skip
                except msgspec.ValidationError as exc:
                    raise cli.CLIError(_invalid(exc)) from None
                made = await psa.create_connection(db, account_id, body, secret_key, _providers())
                what = f"{made.name!r} ({made.provider}, id {made.id})"
                print(f"added PSA connection {what}: {_statuses_text(made.statuses)}")
                print(f"check it: flowpilot psa test {_quoted(made.name)} --ticket <a ticket number>")
                return
            row = await psa.connection_named(db, account_id, args.name)
            if args.psa_command == "remove":
                await psa.delete_connection(db, account_id, row.id)
                print(f"removed PSA connection {row.name!r}")
                return
            if args.psa_command == "update":
                await _update(db, account_id, row, args, secret_key)
                return
            connection_id = row.id
        await _test(sessionmaker, account_id, connection_id, args, secret_key)
    finally:
        await engine.dispose()


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else json.dumps(name)


def _print_list(rows: list[Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([msgspec.to_builtins(r) for r in rows], indent=2))
        return
    if not rows:
        print("no PSA connections yet: flowpilot psa add PROVIDER NAME --config @file.json --resolved STATUS")
        return
    for row in rows:
        default = "  (default)" if row.is_default else ""
        print(f"{row.name}{default}")
        print(f"    {row.provider}, id {row.id}; {_statuses_text(row.statuses)}")


async def _update(db: Any, account_id: uuid.UUID, row: Any, args: argparse.Namespace, secret_key: str) -> None:
    from flowpilot_core import psa

    cli = _cli()
    current = next(c for c in await psa.list_connections(db, account_id, secret_key) if c.id == row.id)
    statuses = None
    if args.resolved is not None or args.escalated is not None or args.no_escalated:
        escalated = None if args.no_escalated else (args.escalated or current.statuses.escalated)
        statuses = {"resolved": args.resolved or current.statuses.resolved, "escalated": escalated}
    changes = {"name": args.new_name, "config": _config(args.config) if args.config else None, "statuses": statuses,
               "is_default": args.default}  # fmt: skip
    if all(v is None for v in changes.values()):
        raise cli.CLIError("nothing to change: pass --name, --config, --resolved, --escalated or --default")
    try:
        body = msgspec.convert(changes, psa.UpdatePsaConnection)
    except msgspec.ValidationError as exc:
        raise cli.CLIError(_invalid(exc)) from None
    made = await psa.update_connection(db, account_id, row.id, body, secret_key, _providers())
    default = ", the account's default" if made.is_default else ""
    print(f"updated PSA connection {made.name!r} ({made.provider}{default}): {_statuses_text(made.statuses)}")


async def _test(sessionmaker: Any, account_id: uuid.UUID, connection_id: uuid.UUID, args: argparse.Namespace,
                secret_key: str) -> None:  # fmt: skip
    from flowpilot_core.psa.check import CheckConnection, check_connection

    cli = _cli()
    result = await check_connection(
        sessionmaker, account_id, connection_id, CheckConnection(ticket_ref=args.ticket),
        secret_key=secret_key, providers=_providers(),
    )  # fmt: skip
    if args.json:
        print(json.dumps(msgspec.to_builtins(result), indent=2))
    else:
        print(f"ok    authenticated: {result.provider} connection {result.name!r}")
        if result.ticket is None:
            print(f"      {result.hint}: --ticket REF")
        else:
            ticket = result.ticket
            shows = f", status {ticket.status.name}" if ticket.status else ""
            board = f", board {ticket.board}" if ticket.board else ""
            print(f"ok    ticket {ticket.ref}: {ticket.summary!r}{shows}{board}")
            listed = ", ".join(f"{s.name}{' (closes)' if s.closed else ''}" for s in ticket.statuses)
            print(f"      its statuses: {listed or 'none'}")
            for kind, mapped in (("resolved", result.resolved), ("escalated", result.escalated)):
                if mapped is None:
                    print(f"ok    {kind:<9} → no status in the mapping: the status is left as it is")
                elif mapped.status is None:
                    print(f"FAIL  {kind:<9} → {mapped.problem}")
                else:
                    how = (
                        ""
                        if mapped.how == "mapping"
                        else f" (the board's closing status: {mapped.wanted!r} is not on it)"
                    )
                    print(f"ok    {kind:<9} → {mapped.status.name} (id {mapped.status.id}){how}")
    if not result.ok:
        raise cli.CLIError("psa test failed: the mapping names a status this ticket cannot take")


def cmd_psa(args: argparse.Namespace) -> None:
    cli = _cli()
    settings = cli._settings(args)
    urls = cli._database(settings)
    asyncio.run(_run(settings, urls, args))


def add_parser(sub: Any) -> None:
    """The ``psa`` command and its actions, on the top-level parser's subparsers."""
    psa_parser = sub.add_parser("psa", help="PSA connections: add, list, test, update, remove")
    actions = psa_parser.add_subparsers(dest="psa_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        parser.add_argument("--account", help="the account's id (default: the demo account, after flowpilot demo)")
        return parser

    config_help = "the provider's config: JSON, @file.json, or @- for standard input (a file keeps keys out of history)"
    add = action("add", "add a connection (the provider validates the config before it is stored, encrypted)")
    add.add_argument(
        "provider", help="a registered PSA provider: connectwise, autotask, halopsa, ... (flowpilot plugins list)"
    )
    add.add_argument("name", help="the connection's name, unique in the account")
    add.add_argument("--config", required=True, help=config_help)
    add.add_argument("--resolved", required=True, metavar="STATUS", help="status a resolved ticket gets (name or id)")
    add.add_argument("--escalated", metavar="STATUS", help="status an escalated ticket gets (default: left as it is)")
    add.add_argument("--default", action="store_true", default=None, help="make it the account's default connection")

    listing = action("list", "the account's connections (credentials are never shown)")
    listing.add_argument("--json", action="store_true", help="print the result as JSON")

    test = action("test", "authenticate, read a ticket's statuses and show which the mapping picks (writes nothing)")
    test.add_argument("name", help="the connection's name")
    test.add_argument(
        "--ticket", metavar="REF", help="a ticket to read the statuses through (they may differ per board)"
    )
    test.add_argument("--json", action="store_true", help="print the result as JSON")

    update = action("update", "change a connection (what is not given stays as it is)")
    update.add_argument("name", help="the connection's name")
    update.add_argument("--name", dest="new_name", metavar="NEW_NAME", help="rename it")
    update.add_argument(
        "--config", help="keys to change, merged into the stored config (null removes one); " + config_help
    )
    update.add_argument("--resolved", metavar="STATUS", help="status a resolved ticket gets")
    escalated = update.add_mutually_exclusive_group()
    escalated.add_argument("--escalated", metavar="STATUS", help="status an escalated ticket gets")
    escalated.add_argument(
        "--no-escalated", action="store_true", help="leave the status of an escalated ticket as it is"
    )
    default = update.add_mutually_exclusive_group()
    default.add_argument("--default", action="store_true", default=None, help="make it the account's default")
    default.add_argument("--no-default", dest="default", action="store_false", help="no longer the default")

    remove = action("remove", "remove a connection (sessions linked to it keep their ticket snapshot)")
    remove.add_argument("name", help="the connection's name")
    psa_parser.set_defaults(func=cmd_psa)
