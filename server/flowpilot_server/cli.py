"""The ``flowpilot`` command: serve, demo, database, accounts, API keys, plugins, PSA connections, model checks.

Errors end in one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from flowpilot_core.config import ConfigError, Settings, ensure_secret_key, load_settings
from flowpilot_core.db.embedded import EmbeddedDatabaseError, embedded_running, stop_started
from flowpilot_core.errors import FlowPilotError


class CLIError(Exception):
    """A failure to report in one line."""


def _progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if overrides:
        from dataclasses import replace

        settings = replace(settings, **overrides)
    return ensure_secret_key(settings)


def _database(settings: Settings) -> Any:
    from flowpilot_core.db.engine import resolve_database

    if settings.database_url is None:
        pgdata = settings.data_dir / "pgdata"
        if embedded_running(settings.data_dir):
            _progress(f"Using the embedded PostgreSQL already running in {pgdata}")
        else:
            _progress(f"Starting embedded PostgreSQL in {pgdata} (first start takes a few seconds)")
    return resolve_database(settings)


async def _migrate(settings: Settings, urls: Any) -> None:
    from flowpilot_core.db import migrate

    current, head = await migrate.current(urls.owner)
    if current == head:
        _progress(f"Database schema is current ({head})")
        return
    _progress(f"Applying migrations {current or 'base'} → {head}")
    await migrate.upgrade(urls.owner, app_db_role=settings.app_db_role, app_db_password=settings.app_db_password)
    _progress("Migrations applied")


async def _require_migrated(urls: Any) -> None:
    from flowpilot_core.db import migrate

    current, head = await migrate.current(urls.owner)
    if current != head:
        raise CLIError(f"the database schema is at {current or 'base'}, not {head}: run 'flowpilot db upgrade' first")


async def _with_tenant_db(settings: Settings, urls: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    from flowpilot_core.db.engine import create_engine, make_sessionmaker

    await _require_migrated(urls)
    engine = create_engine(urls.app, pgbouncer=settings.database_pgbouncer)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            return await fn(db)
    finally:
        await engine.dispose()


def _serve(settings: Settings, urls: Any, workers: int = 1) -> None:
    import uvicorn

    from flowpilot_core.library import build_model_provider, load_ai_policy
    from flowpilot_core.plugins import collect, load_plugins
    from flowpilot_server.app import create_app

    load_ai_policy(settings)  # fail here, in one line, rather than inside the server's startup
    load_plugins()
    build_model_provider(settings, collect())
    if workers == 1:
        app = create_app(settings, urls=urls)
        _progress(f"FlowPilot is listening on {settings.base_url}/pilot  (Ctrl+C stops)")
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_keep_alive=settings.keep_alive_timeout,
        )
        return
    _export_for_workers(settings, urls)
    _reconcile_in_background(settings, urls)
    _progress(f"FlowPilot is listening on {settings.base_url}/pilot with {workers} workers  (Ctrl+C stops)")
    uvicorn.run(
        "flowpilot_server.app:create_worker_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_keep_alive=settings.keep_alive_timeout,
    )


def _export_for_workers(settings: Settings, urls: Any) -> None:
    """What the workers must agree on with this process, in the environment they inherit: the database this
    process resolved (an embedded one it started included, so no worker starts another) and where to listen."""
    os.environ.update(
        FLOWPILOT_DATABASE_URL=urls.owner,
        FLOWPILOT_APP_DATABASE_URL=urls.app,
        FLOWPILOT_HOST=settings.host,
        FLOWPILOT_PORT=str(settings.port),
    )
    if settings.secret_key:  # given or generated into the data dir: the same key in every worker
        os.environ["FLOWPILOT_SECRET_KEY"] = settings.secret_key


def _reconcile_in_background(settings: Settings, urls: Any) -> threading.Thread:
    """Finish the writebacks a crash left half-way, once for all workers, without delaying start-up."""
    from flowpilot_core.library import FlowPilot
    from flowpilot_core.writeback.reconcile import reconcile_abandoned

    async def reconcile() -> None:
        runtime = FlowPilot.start(settings, urls)
        try:
            await reconcile_abandoned(runtime.writeback, urls.owner, stale_after=settings.writeback_reconcile_after)
        finally:
            await runtime.close()

    thread = threading.Thread(target=asyncio.run, args=(reconcile(),), name="writeback-reconciler", daemon=True)
    thread.start()
    return thread


def _workers(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{count} is outside 1-64")
    return count


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings(args)
    urls = _database(settings)
    if not args.no_migrate:
        asyncio.run(_migrate(settings, urls))  # here, once, before any worker starts
    _serve(settings, urls, args.workers)


def cmd_demo(args: argparse.Namespace) -> None:
    from flowpilot_server.demo import DemoPsa, prepare_demo, start_host_portal
    from flowpilot_server.demo_psa import CONNECTION_NAME

    settings = _settings(args)
    if "offline" not in settings.ai:  # let the demo's offline replies visibly stream in
        from dataclasses import replace

        settings = replace(settings, ai={**settings.ai, "offline": {"stream_delay_ms": 25}})
    urls = _database(settings)
    asyncio.run(_migrate(settings, urls))
    _progress("Preparing the demo account, technician and sample tickets (in a local ConnectWise fake)")
    demo_psa = DemoPsa.start()
    try:
        demo = asyncio.run(prepare_demo(settings, urls, portal_port=args.portal_port, psa=demo_psa))
        portal = start_host_portal(settings, demo, args.portal_port, demo_psa)
        portal_url = f"http://{settings.host}:{args.portal_port}/" if portal else None
        first = min(demo_psa.samples, key=int)
        print()
        print("  FlowPilot demo is ready.")
        print(f"  Open FlowPilot (signed in as {demo.user_name}):")
        print(f"    {settings.base_url}/pilot#token={demo.token}")
        if portal_url:
            print("  FlowPilot embedded in an example PSA portal (its tickets live in the ConnectWise fake):")
            print(f"    {portal_url}")
        print(f"  PSA: a ConnectWise fake at {demo_psa.fake.url}, tickets {', '.join(sorted(demo_psa.samples))}")
        print(f"    flowpilot psa test {json.dumps(CONNECTION_NAME)} --ticket {first}")
        print(f"  Demo account id: {demo.account_id}")
        print(f"  API key for it:  flowpilot api-keys create --account {demo.account_id}")
        print(f"  API docs: {settings.base_url}/schema")
        print()
        _serve(settings, urls)
    finally:
        demo_psa.close()


def cmd_db(args: argparse.Namespace) -> None:
    from flowpilot_core.db import migrate

    settings = _settings(args)
    urls = _database(settings)
    role = {"app_db_role": settings.app_db_role, "app_db_password": settings.app_db_password}
    if args.db_command == "upgrade":
        _progress(f"Upgrading to {args.revision}")
        asyncio.run(migrate.upgrade(urls.owner, args.revision, **role))
    elif args.db_command == "downgrade":
        _progress(f"Downgrading to {args.revision}")
        asyncio.run(migrate.downgrade(urls.owner, args.revision, **role))
    current, head = asyncio.run(migrate.current(urls.owner))
    print(f"current: {current or 'base'}  head: {head}")


def cmd_accounts(args: argparse.Namespace) -> None:
    from flowpilot_core.accounts import accounts

    settings = _settings(args)
    urls = _database(settings)
    assert settings.secret_key

    async def create(db: Any) -> Any:
        return await accounts.create_account(
            db, name=args.name, secret_key=settings.secret_key or "", allowed_origins=args.allowed_origin
        )

    created = asyncio.run(_with_tenant_db(settings, urls, create))
    if args.json:
        print(json.dumps({"id": str(created.id), "name": created.name, "embed_secret": created.embed_secret}))
    else:
        print(f"account id:    {created.id}")
        print(f"name:          {created.name}")
        print(f"embed secret:  {created.embed_secret}   (keep it on your portal's backend; it signs embed tokens)")


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CLIError(f"{what} {value!r} is not a UUID") from None


def cmd_api_keys(args: argparse.Namespace) -> None:
    from flowpilot_core.accounts import accounts
    from flowpilot_core.db.engine import set_account

    settings = _settings(args)
    urls = _database(settings)
    account_id = _uuid(args.account, "account id")

    async def run(db: Any) -> Any:
        await set_account(db, account_id)
        if args.api_keys_command == "create":
            return await accounts.create_api_key(db, account_id, args.name)
        await accounts.revoke_api_key(db, account_id, _uuid(args.key_id, "API key id"))
        return None

    created = asyncio.run(_with_tenant_db(settings, urls, run))
    if created is None:
        print(f"revoked API key {args.key_id}")
    elif args.json:
        print(json.dumps({"id": str(created.id), "name": created.name, "key": created.key}))
    else:
        print(f"API key id: {created.id}")
        print(f"key:        {created.key}   (shown once; FlowPilot stores only its hash)")


def cmd_plugins(args: argparse.Namespace) -> None:
    from flowpilot_core.plugins import collect, load_plugins, plugin_summaries

    failures = load_plugins()
    rows = plugin_summaries(registry=collect())
    if args.json:
        print(json.dumps({"plugins": rows, "failed": [f.__dict__ for f in failures]}, indent=2))
        return
    for row in rows:
        print(f"{row['name']:<12} {row['module']:<32} {', '.join(row['hooks'])}")
        if row["contributes"]:
            print(f"{'':<12} contributes: {', '.join(row['contributes'])}")
    for failure in failures:
        print(f"{failure.name:<12} FAILED TO LOAD: {failure.error}")


def _usage_line(usage: Any) -> str:
    if not usage.reported:
        return "usage not reported by the server (usage rows will say so)"
    kind = "estimated" if usage.estimated else "reported"
    total_input = usage.input_tokens + usage.cache_read_input_tokens
    cached, output = usage.cache_read_input_tokens, usage.output_tokens
    return f"usage {kind}: {total_input} input tokens ({cached} from cache), {output} output"


async def _models_test(settings: Settings, provider_name: str | None, service: str) -> None:
    """Check a provider end to end: reachable, authenticated, the model exists, a completion and a stream."""
    import time

    from flowpilot_core.ai.errors import AIError
    from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached, chat_call_cached_stream
    from flowpilot_core.ai.types import CallSpec, Completion
    from flowpilot_core.library import load_ai_policy
    from flowpilot_core.plugins import collect, load_plugins

    load_plugins()
    factories = collect().model_providers
    policy = load_ai_policy(settings)
    name = provider_name or policy.provider_for(service) or settings.effective_model_provider
    if name not in factories:
        registered = ", ".join(sorted(factories)) or "none"
        raise ConfigError(f"model provider {name!r} is not registered (registered: {registered})")
    try:
        provider = factories[name](settings)
    except ValueError as exc:  # the provider's own settings; the message names the key
        raise ConfigError(str(exc)) from None
    tier = policy.service(service).tier
    model = policy.model_for(service, name)
    print(f"provider {name}, service {service} (tier {tier}), model {model}")
    spec = CallSpec(
        service=service, system=("Reply with the single word OK.",), request="Are you there?", max_tokens=16
    )
    step = "reachable and authenticated"
    try:
        lister = getattr(provider, "list_models", None)
        if lister is not None:
            served = await lister(policy.timeouts_for(service))
            print(f"ok    {step} ({len(served)} models listed)")
            step = "model exists"
            if model not in served:
                shown = ", ".join(served[:10]) + (" ..." if len(served) > 10 else "")
                print(f"FAIL  {step}: {model!r} is not served here (served: {shown or 'none'})")
                raise CLIError(f"models test failed: {step}")
            print(f"ok    {step}: {model}")
        step = "completion"
        sink = MemoryUsageSink()
        completion = await chat_call_cached(spec, provider=provider, policy=policy, usage_sink=sink)
        record = sink.records[-1]
        reply = completion.text.strip()[:60]
        print(f"ok    {step}: {reply!r} in {record.latency_ms:.0f} ms; {_usage_line(record.usage)}")
        step = "streamed completion"
        deltas = 0
        started = time.perf_counter()
        async for item in chat_call_cached_stream(spec, provider=provider, policy=policy, usage_sink=sink):
            if not isinstance(item, Completion):
                deltas += 1
        record = sink.records[-1]
        first = f"first after {record.first_token_ms:.0f} ms, " if record.first_token_ms is not None else ""
        took = (time.perf_counter() - started) * 1000
        print(f"ok    {step}: {deltas} deltas, {first}{took:.0f} ms in all; {_usage_line(record.usage)}")
    except AIError as exc:
        said = f" ({exc.provider_detail})" if exc.provider_detail else ""
        print(f"FAIL  {step}: {exc.message}{said}")
        raise CLIError(f"models test failed: {step}") from None
    finally:
        closer = getattr(provider, "aclose", None)
        if closer is not None:
            await closer()


def cmd_models(args: argparse.Namespace) -> None:
    asyncio.run(_models_test(load_settings(), args.provider, args.service))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowpilot", description="FlowPilot: AI troubleshooting copilot for MSPs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server (migrates the database first)")
    serve.add_argument("--host", help="address to listen on (default: FLOWPILOT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: FLOWPILOT_PORT or 8000)")
    serve.add_argument("--no-migrate", action="store_true", help="don't apply pending migrations")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="server processes sharing the port (default: 1); each has its own database pool of "
        "FLOWPILOT_DB_POOL_SIZE + FLOWPILOT_DB_MAX_OVERFLOW connections. Migrations run once, before they start",
    )
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run FlowPilot with a demo account, sample tickets and an example portal")
    demo.add_argument(
        "--host", help="address FlowPilot and the portal listen on (default: FLOWPILOT_HOST or 127.0.0.1)"
    )
    demo.add_argument("--port", type=int, help="FlowPilot's port (default: FLOWPILOT_PORT or 8000)")
    demo.add_argument("--portal-port", type=int, default=8001, help="port of the example host portal (0: none)")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    down = db_sub.add_parser("downgrade", help="revert migrations")
    down.add_argument("revision", nargs="?", default="base", help="target revision (default: base, an empty schema)")
    db_sub.add_parser("current", help="show the schema revision")
    db.set_defaults(func=cmd_db)

    acc = sub.add_parser("accounts", help="manage accounts (tenants)")
    acc_sub = acc.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    acc_create = acc_sub.add_parser("create", help="create an account; prints its id and embed secret")
    acc_create.add_argument("--name", required=True, help="the account's display name (e.g. the MSP's name)")
    acc_create.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        help="portal origin allowed to embed FlowPilot, scheme://host[:port] (repeat for several)",
    )
    acc_create.add_argument("--json", action="store_true", help="print the result as JSON")
    acc.set_defaults(func=cmd_accounts)

    keys = sub.add_parser("api-keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="api_keys_command", required=True, metavar="ACTION")
    k_create = keys_sub.add_parser("create", help="create an API key (shown once)")
    k_create.add_argument("--account", required=True, help="id of the account the key belongs to")
    k_create.add_argument("--name", default="api key", help="a label to recognise the key by (default: 'api key')")
    k_create.add_argument("--json", action="store_true", help="print the result as JSON")
    k_revoke = keys_sub.add_parser("revoke", help="revoke an API key")
    k_revoke.add_argument("--account", required=True, help="id of the account the key belongs to")
    k_revoke.add_argument("key_id", help="id of the API key (printed when it was created)")
    keys.set_defaults(func=cmd_api_keys)

    plugins = sub.add_parser("plugins", help="plugins")
    p_sub = plugins.add_subparsers(dest="plugins_command", required=True, metavar="ACTION")
    p_list = p_sub.add_parser("list", help="each plugin and the hooks it implements")
    p_list.add_argument("--json", action="store_true", help="print the result as JSON")
    plugins.set_defaults(func=cmd_plugins)

    from flowpilot_server import psa_cli

    psa_cli.add_parser(sub)

    models = sub.add_parser("models", help="model providers")
    m_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    m_test = m_sub.add_parser(
        "test", help="check a provider end to end: reachable, authenticated, model, a completion and a stream"
    )
    m_test.add_argument("--provider", help="provider to check (default: the one serving --service)")
    m_test.add_argument("--service", default="chat", help="service whose tier picks the model (default: chat)")
    models.set_defaults(func=cmd_models)
    return parser


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the command like Ctrl+C: through the cleanup below


def _stop_embedded_database() -> None:
    """Stop the embedded PostgreSQL this process started; one it found running stays up for its owner."""
    for pgdata in stop_started():
        _progress(f"Stopped the embedded PostgreSQL in {pgdata}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _run(args)
    finally:
        try:
            _stop_embedded_database()
        except KeyboardInterrupt:  # a second Ctrl+C while stopping: stop anyway, quietly
            stop_started()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        args.func(args)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(f"flowpilot: configuration error: {exc}", file=sys.stderr)
        return 2
    except (CLIError, FlowPilotError, EmbeddedDatabaseError) as exc:
        print(f"flowpilot: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"flowpilot: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # database unreachable and the like: one line, no traceback
        print(f"flowpilot: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
