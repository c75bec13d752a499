"""Answer-to-fact latency: how long a technician waits between answering a question and seeing the fact.

Runs the real server (``create_app`` under uvicorn, in this process, on a free port)
with the offline model against PostgreSQL: an embedded ``pgserver`` in a temporary
directory, or a scratch database created on the server named by
``FLOWPILOT_TEST_DATABASE_URL`` / ``FLOWPILOT_DATABASE_URL`` (dropped afterwards; the
role needs CREATEDB). Migrations run with ``flowpilot_core.db.migrate.upgrade``; the
account is created as the application role.

Each iteration is a fresh session with a print-spooler ticket: a chat message makes the
offline playbook propose its first question, and the question is answered over HTTP.
The answer's round trip (the response carries the synthesised fact) is what is
measured. Server-side, an ASGI wrapper times each answer request from the moment the
server receives it to its last response byte, and a wrapper around the model provider
times the fact-synthesis call, so the server's own work (authentication, two short
transactions, the lane and facts writes) is reported without the model. The
``ai_usage`` rows' ``latency_ms`` (whole milliseconds) are printed as a cross-check.

Bounded: at most ``ANSWERS`` measured answers (after ``WARMUP``) or ``TIME_BUDGET_S``
seconds of measuring, whichever comes first. The last line is
``answer_to_fact_p50_ms=<x> p99_ms=<y>`` (round trip).

Run from the repository root: ``.venv/bin/python bench/answer_to_fact.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from flowpilot_server.app import create_app  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from flowpilot_core.accounts import accounts  # noqa: E402
from flowpilot_core.accounts.embed_tokens import mint_embed_token  # noqa: E402
from flowpilot_core.ai.layout import LaidOutCall  # noqa: E402
from flowpilot_core.ai.provider import ModelProvider, StreamEvent  # noqa: E402
from flowpilot_core.ai.types import Completion  # noqa: E402
from flowpilot_core.config import Settings, normalize_database_url  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import (  # noqa: E402
    DatabaseUrls,
    create_engine,
    derive_app_url,
    make_sessionmaker,
    tenant_session,
)
from flowpilot_core.db.models import AiUsage  # noqa: E402

ANSWERS = 200
WARMUP = 10
TIME_BUDGET_S = 75.0
SECRET_KEY = "flowpilot-bench-secret-key-0123456789abcdef"

TICKET = {
    "summary": "Accounts cannot print - jobs stuck in the queue",
    "description": (
        "Since 9am the accounts office has trouble printing. Jobs go into the queue on WS-ACC-04 and sit there "
        "with status 'Printing'. Turning the HP LaserJet off and on did not help."
    ),
    "company": "Contoso Dental",
    "contact": "Tom Reed",
    "board": "Service Desk",
    "priority": "Priority 2 - High",
}
FIRST_MESSAGE = "Users in accounts can't print, the jobs are stuck in the print queue"
ANSWERS_GIVEN = (  # what technicians type, rotated; only a bare yes/no becomes a fact offline
    "No",
    "Yes, reception prints to it fine",
    "nope",
    "yes they can",
)


# -- measurement hooks ----------------------------------------------------------------------


class TimedProvider:
    """Delegates to the real provider and records how long each model call took (per service)."""

    def __init__(self, inner: ModelProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[tuple[str, float]] = []

    async def complete(self, request: LaidOutCall) -> Completion:
        started = time.perf_counter()
        try:
            return await self.inner.complete(request)
        finally:
            self.calls.append((request.spec.service, (time.perf_counter() - started) * 1000.0))

    def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(request)


class ServerTimer:
    """ASGI wrapper: the server-side time of each HTTP request, receive to last response byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.timings: list[tuple[str, float]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.timings.append((scope["path"], (time.perf_counter() - started) * 1000.0))

        await self.app(scope, receive, timed_send)


# -- database ---------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def database(tmp: Path) -> Iterator[tuple[str, str]]:
    """(owner URL, description) of a fresh database; removed (and the embedded server stopped) afterwards."""
    configured = os.environ.get("FLOWPILOT_TEST_DATABASE_URL") or os.environ.get("FLOWPILOT_DATABASE_URL")
    if configured:
        server = normalize_database_url(configured, "FLOWPILOT_TEST_DATABASE_URL / FLOWPILOT_DATABASE_URL")
        name = f"fp_bench_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
        try:
            yield (
                _with_database(server, name),
                f"scratch database {name} on {urlsplit(server).hostname or 'a local socket'}",
            )
        finally:
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless hosts
        warnings.simplefilter("ignore")
        import pgserver

        pg = pgserver.get_server(str(tmp / "pgdata"), cleanup_mode="stop")
    try:
        pg.psql('CREATE DATABASE "flowpilot_bench";')
        uri = urlsplit(pg.get_uri())
        url = normalize_database_url(f"{uri.scheme}://{uri.netloc}/flowpilot_bench?{uri.query}")
        yield url, "embedded PostgreSQL (pgserver) in a temporary directory"
    finally:
        pg.cleanup()


async def create_account(app_url: str) -> tuple[uuid.UUID, str]:
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            created = await accounts.create_account(db, name="Bench MSP", secret_key=SECRET_KEY)
    finally:
        await engine.dispose()
    return created.id, created.embed_secret


async def usage_latencies(app_url: str, account_id: uuid.UUID, service: str) -> list[int]:
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            rows = await db.execute(select(AiUsage.latency_ms).where(AiUsage.service == service).order_by(AiUsage.id))
            return [int(v) for v in rows.scalars()]
    finally:
        await engine.dispose()


# -- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(settings: Settings, urls: DatabaseUrls) -> Iterator[tuple[str, Any, ServerTimer]]:
    """The FlowPilot app under uvicorn on a free port: (base URL, the Litestar app, the request timer)."""
    app = create_app(settings, urls=urls)
    timer = ServerTimer(app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(timer, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="flowpilot-bench-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the FlowPilot server did not become healthy within 30 s")
        time.sleep(0.05)
    try:
        yield url, app, timer
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# -- the benchmark ------------------------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[89], q[98]


def line(label: str, values: list[float]) -> str:
    p50, p90, p99 = percentiles(values)
    return f"{label:<46} p50={p50:8.2f}  p90={p90:8.2f}  p99={p99:8.2f}  max={max(values):8.2f}  (ms, n={len(values)})"


def one_answer(http: httpx.Client, headers: dict[str, str], answer: str) -> tuple[float, dict[str, Any]]:
    """A fresh session, the first chat turn, then the timed answer to the question it proposed."""
    created = http.post(
        "/api/v1/ai-sessions", json={"problem_statement": FIRST_MESSAGE, "ticket": TICKET}, headers=headers
    )
    created.raise_for_status()
    sid = created.json()["id"]
    turn = http.post(f"/api/v1/ai-sessions/{sid}/messages", json={"content": FIRST_MESSAGE}, headers=headers)
    turn.raise_for_status()
    questions = turn.json()["task_lane"]["questions"]
    if not questions:
        raise RuntimeError(f"the offline playbook proposed no question: {turn.json()['assistant_message']['content']}")
    started = time.perf_counter()
    response = http.post(
        f"/api/v1/ai-sessions/{sid}/task-lane/{questions[0]['id']}/answer", json={"answer": answer}, headers=headers
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    response.raise_for_status()
    return elapsed, response.json()


def run(owner_url: str, where: str, tmp: Path) -> str:
    password = os.environ.get("FLOWPILOT_APP_DB_PASSWORD") or None
    setup = time.perf_counter()
    asyncio.run(migrate.upgrade(owner_url, app_db_password=password))
    urls = DatabaseUrls(owner=owner_url, app=derive_app_url(owner_url, "flowpilot_app", password), embedded=False)
    account_id, embed_secret = asyncio.run(create_account(urls.app))
    settings = Settings(
        data_dir=tmp / "data",
        database_url=owner_url,
        app_db_password=password,
        secret_key=SECRET_KEY,
        model_provider="offline",
    )
    print(f"database: {where}; migrated and account created in {time.perf_counter() - setup:.1f} s")

    with serve(settings, urls) as (url, app, timer):
        quiet()  # Litestar's default logging config set the root logger to INFO
        runtime = app.state.runtime
        provider = TimedProvider(runtime.ai.provider)
        runtime.ai.provider = provider  # the gateway binds it on the next call
        token = mint_embed_token(
            account_id=account_id, secret=embed_secret, user_id="bench-tech", name="Bench Tech", ttl_seconds=3600
        )
        headers = {"Authorization": f"Bearer {token}"}
        round_trips: list[float] = []
        facts = 0
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(WARMUP + ANSWERS):
                if i >= WARMUP and time.monotonic() - started > TIME_BUDGET_S:
                    print(f"time budget of {TIME_BUDGET_S:.0f} s reached after {len(round_trips)} measured answers")
                    break
                elapsed, body = one_answer(http, headers, ANSWERS_GIVEN[i % len(ANSWERS_GIVEN)])
                if i < WARMUP:
                    continue
                round_trips.append(elapsed)
                facts += body["fact"] is not None
        wall = time.monotonic() - started

    answered = [ms for path, ms in timer.timings if path.endswith("/answer")][WARMUP:]
    synthesis = [ms for service, ms in provider.calls if service == "fact_synthesis"][WARMUP:]
    chat = [ms for service, ms in provider.calls if service == "chat"][WARMUP:]
    assert len(answered) == len(synthesis) == len(round_trips), "one synthesis call per answer request"
    server_only = [total - model for total, model in zip(answered, synthesis, strict=True)]
    recorded = asyncio.run(usage_latencies(urls.app, account_id, "fact_synthesis"))[WARMUP:]

    print(f"{len(round_trips)} answers on fresh sessions in {wall:.1f} s (after {WARMUP} warm-up answers); "
          f"{facts} returned a fact")  # fmt: skip
    print(line("(a) answer round trip, client side", round_trips))
    print(line("    answer request, server side", answered))
    print(line("(b) server side excluding the model call", server_only))
    print(line("    model call (offline fact synthesis)", synthesis))
    print(line("    model call, ai_usage.latency_ms (whole ms)", [float(v) for v in recorded]))
    print(line("    chat turn model call (offline playbook)", chat))
    if facts == 0:
        raise SystemExit("no answer produced a fact: the offline synthesis or the playbook changed")
    p50, _, p99 = percentiles(round_trips)
    return f"answer_to_fact_p50_ms={p50:.2f} p99_ms={p99:.2f}"


def quiet() -> None:
    """Only warnings from the libraries: pgserver logs every pg_ctl call, httpx every request."""
    for name in ("pgserver", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with tempfile.TemporaryDirectory(prefix="flowpilot-bench-") as tmp, database(Path(tmp)) as (owner_url, where):
        summary = run(owner_url, where, Path(tmp))
    print(summary, flush=True)  # last, after the database is gone


if __name__ == "__main__":
    main()
