"""Load: simulated technicians working sessions against ``flowpilot serve`` with the offline model.

Starts ``flowpilot serve`` (a subprocess, its own data directory and embedded PostgreSQL, the offline
model, 127.0.0.1 on a free port; ``--serve-arg`` passes more arguments, e.g. ``--serve-arg=--workers
--serve-arg=2`` where ``serve`` has that option), creates an account with the CLI, and runs
``--technicians`` technicians for ``--duration`` seconds. Each technician has an embed token, an HTTP
client of their own (as each has a browser) and a print-spooler session, and repeats, with a think time
drawn from ``--think`` (seconds) between actions:

- ``open``: ``GET .../open`` (what the widget reads to show the session);
- ``chat`` / ``chat-stream``: a chat turn, plain or streamed (SSE read to its ``done`` event);
- ``answer``: the answer to the lane's first open question (a fact is synthesised), after reading the
  lane (``lane``, ``GET .../task-lane``);
- ``note``: a manual note;
- ``facts``: ``GET .../facts``.

Bounded in time (``--duration``, then in-flight requests finish, each with a 30 s timeout) and in count
(``--max-actions`` per technician); it talks to 127.0.0.1 only. Prints, per action, count, errors, p50
and p99 (client side, ms), then errors in all, reads p99, chat p99 (both kinds),
throughput, and the machine's load average before and after, with issue #14's goals beside them
(0 errors, reads p99 (open, facts, lane) < 300 ms, chat p99 < 1.5 s; those goals are for 200 technicians for 5 minutes
with 2-8 s think time; the defaults here are smaller, for a shared machine).

Run from the repository root: ``.venv/bin/python bench/load.py [--technicians 20 --duration 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowpilot_core.accounts.embed_tokens import mint_embed_token  # noqa: E402

FLOWPILOT = str(Path(sys.executable).with_name("flowpilot"))
PROBLEM = "Users in accounts can't print, the jobs are stuck in the print queue on WS-ACC-04"
TICKET = {"summary": "Accounts cannot print - jobs stuck in the queue", "company": "Contoso Dental"}
ACTIONS = {"open": 3, "chat": 1, "chat-stream": 1, "answer": 1, "note": 1, "facts": 2}  # weights
READS = ("open", "facts", "lane")
CHATS = ("chat", "chat-stream")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Technician:
    def __init__(self, http: httpx.AsyncClient, token: str, n: int, record: Any) -> None:
        self.http, self.n, self.record = http, n, record
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sid = ""
        self.turns = 0

    async def call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            self.record(kind, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}")
            return None
        error = None if response.status_code < 400 else f"HTTP {response.status_code}"
        self.record(kind, (time.perf_counter() - started) * 1000, error)
        return response

    async def stream_turn(self) -> None:
        started = time.perf_counter()
        body = {"content": f"Still stuck after step {self.turns}", "client_message_id": f"t{self.n}-{self.turns}"}
        headers = {**self.headers, "Accept": "text/event-stream"}
        error = "no done event"
        try:
            async with self.http.stream(
                "POST", f"/api/v1/ai-sessions/{self.sid}/messages", json=body, headers=headers
            ) as response:
                if response.status_code >= 400:
                    error = f"HTTP {response.status_code}"
                else:
                    async for line in response.aiter_lines():
                        if line.startswith("event: done"):
                            error = None
                        elif line.startswith("event: error"):
                            error = "error event"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        self.record("chat-stream", (time.perf_counter() - started) * 1000, error)

    async def act(self, kind: str) -> None:
        base = f"/api/v1/ai-sessions/{self.sid}"
        self.turns += 1
        if kind == "open":
            await self.call(kind, "GET", f"{base}/open")
        elif kind == "facts":
            await self.call(kind, "GET", f"{base}/facts")
        elif kind == "note":
            await self.call(kind, "POST", f"{base}/facts", json={"text": f"Technician {self.n} note {self.turns}"})
        elif kind == "chat":
            body = {"content": f"What next? ({self.turns})", "client_message_id": f"t{self.n}-{self.turns}"}
            await self.call(kind, "POST", f"{base}/messages", json=body)
        elif kind == "chat-stream":
            await self.stream_turn()
        elif kind == "answer":
            lane = await self.call("lane", "GET", f"{base}/task-lane")
            questions = [
                q
                for q in (lane.json()["questions"] if lane and lane.status_code == 200 else [])
                if q["status"] == "open"
            ]
            if questions:
                await self.call(kind, "POST", f"{base}/task-lane/{questions[0]['id']}/answer", json={"answer": "No"})

    async def run(self, deadline: float, think: tuple[float, float], max_actions: int, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, think[1]))  # technicians don't all start at the same instant
        created = await self.call(
            "create", "POST", "/api/v1/ai-sessions", json={"problem_statement": PROBLEM, "ticket": TICKET}
        )
        if created is None or created.status_code != 201:
            return
        self.sid = created.json()["id"]
        kinds, weights = list(ACTIONS), list(ACTIONS.values())
        for _ in range(max_actions):
            if time.monotonic() >= deadline:
                return
            await self.act(rng.choices(kinds, weights)[0])
            await asyncio.sleep(rng.uniform(*think))


def start_server(data_dir: Path, port: int, serve_args: list[str]) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_")}
    env |= {
        "FLOWPILOT_DATA_DIR": str(data_dir),
        "FLOWPILOT_MODEL_PROVIDER": "offline",
        "FLOWPILOT_HOST": "127.0.0.1",
        "FLOWPILOT_PORT": str(port),
        "FLOWPILOT_LOAD_PLUGINS": "",
    }
    subprocess.run([FLOWPILOT, "db", "upgrade"], env=env, check=True, capture_output=True)
    made = subprocess.run(
        [FLOWPILOT, "accounts", "create", "--name", "Load MSP", "--json"], env=env, check=True, capture_output=True
    )
    account = json.loads(made.stdout)
    server = subprocess.Popen(
        [FLOWPILOT, "serve", "--no-migrate", *serve_args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, account["id"], account["embed_secret"]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"flowpilot serve did not become healthy: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def drive(url: str, account_id: str, secret: str, args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)

    def record(kind: str, ms: float, error: str | None) -> None:
        timings[kind].append(ms)
        if error:
            errors[kind].append(error)

    rng = random.Random(14)
    # One client per technician, as each has a browser of their own. One client shared by all made the load
    # generator the bottleneck: httpcore scans every pooled connection on every request (with 110 connections,
    # three quarters of the client's time, which took a whole core at 130 requests/s).
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with contextlib.AsyncExitStack() as stack:
        technicians = [
            Technician(
                await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30, limits=limits)),
                mint_embed_token(
                    account_id=account_id, secret=secret, user_id=f"tech-{n}", name=f"Tech {n}", ttl_seconds=3600
                ),
                n,
                record,
            )
            for n in range(args.technicians)
        ]
        started = time.monotonic()
        deadline = started + args.duration
        await asyncio.gather(
            *(t.run(deadline, tuple(args.think), args.max_actions, random.Random(rng.random())) for t in technicians)
        )
        elapsed = time.monotonic() - started
    return {"timings": timings, "errors": errors}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--technicians", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (then in-flight requests end)")
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--max-actions", type=int, default=1000, help="per technician")
    parser.add_argument("--serve-arg", action="append", default=[], help="an extra argument for flowpilot serve")
    args = parser.parse_args()
    if not 1 <= args.technicians <= 500 or not 1 <= args.duration <= 900:
        parser.error("--technicians must be 1-500 and --duration 1-900 seconds")
    load_before = os.getloadavg()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fp-load-") as tmp:
        server, account_id, secret = start_server(Path(tmp) / "data", port, args.serve_arg)
        try:
            result, elapsed = asyncio.run(drive(f"http://127.0.0.1:{port}", account_id, secret, args))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    report(result, elapsed, args, load_before, os.getloadavg())


def report(result: dict[str, Any], elapsed: float, args: argparse.Namespace, before: Any, after: Any) -> None:
    timings, errors = result["timings"], result["errors"]
    total = sum(len(v) for v in timings.values())
    print(
        f"{args.technicians} technicians for {elapsed:.0f} s, think time {args.think[0]}-{args.think[1]} s, "
        f"flowpilot serve {' '.join(args.serve_arg) or '(one process)'}, offline model"
    )
    print(f"load average before {before[0]:.2f}, after {after[0]:.2f} (1 min; 2 cores, shared)")
    print(f"{'action':<12} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in sorted(timings):
        values = timings[kind]
        print(f"{kind:<12} {len(values):6d} {len(errors[kind]):6d} {pct(values, 50):8.1f} {pct(values, 99):8.1f}")
    shown = sorted({e for v in errors.values() for e in v})
    print(f"errors={sum(len(v) for v in errors.values())} (goal 0){': ' + ', '.join(shown) if shown else ''}")
    reads = [ms for k in READS for ms in timings.get(k, [])]
    chats = [ms for k in CHATS for ms in timings.get(k, [])]
    print(f"reads_p99_ms={pct(reads, 99):.1f} (goal < 300)")
    print(f"chat_p99_ms={pct(chats, 99):.1f} (goal < 1500)")
    print(
        f"throughput_rps={total / elapsed:.1f} (requests completed / elapsed; a saturation figure only when "
        "the think time is short enough that the server, not the technicians, is the limit)"
    )


if __name__ == "__main__":
    main()
