"""`flowpilot serve` against `flowpilot serve --workers N`: authenticated reads per second under a closed loop.

Two real servers (subprocesses on ephemeral 127.0.0.1 ports) on one database (an embedded ``pgserver`` in a
temporary directory, or a scratch database on the server ``FLOWPILOT_TEST_DATABASE_URL`` names): one process, and
one with N workers. ``CLIENTS`` concurrent clients read one session (``GET /api/v1/ai-sessions/{id}`` with an
embed token) back to back for ``SECONDS`` seconds, from one server and then the other, ``ROUNDS`` times
alternating (so that load from elsewhere on the machine falls on both alike); the medians are compared, the
single process being the floor. On a machine with fewer cores than workers (or one other work keeps busy) the
ratio says so.

The last line is ``serve_workers_1_rps=<x> serve_workers_<n>_rps=<y> ratio=<y/x>``.

Run from the repository root: ``.venv/bin/python bench/serve_workers.py [N]`` (default N: 2).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench", ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from answer_to_fact import SECRET_KEY, create_account, database  # noqa: E402

from flowpilot_core.accounts.embed_tokens import mint_embed_token  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import derive_app_url  # noqa: E402

CLIENTS = 32
WARMUP_SECONDS = 2
SECONDS = 5
ROUNDS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f}s")


def start(owner_url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_") and k != "ANTHROPIC_API_KEY"}
    env |= {"FLOWPILOT_DATABASE_URL": owner_url, "FLOWPILOT_SECRET_KEY": SECRET_KEY}
    env["FLOWPILOT_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowpilot_server.cli", "serve", "--no-migrate", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, timeout=120)
    return proc, url


async def closed_loop(url: str, path: str, token: str, seconds: float) -> list[float]:
    """``CLIENTS`` clients, each sending its next request when the last one is answered; latencies in ms."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        # A connection of its own per client: one pool shared by all makes httpcore walk every pooled
        # connection on each request, which costs the client more than the server (bench/load.py).
        async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=1), timeout=30) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies


def measure(url: str, path: str, token: str) -> tuple[float, list[float]]:
    latencies = asyncio.run(closed_loop(url, path, token, SECONDS))
    return len(latencies) / SECONDS, latencies


def report(workers: int, rounds: list[tuple[float, list[float]]]) -> float:
    rps = statistics.median(r for r, _ in rounds)
    q = statistics.quantiles([ms for _, latencies in rounds for ms in latencies], n=100)
    each = ", ".join(f"{r:.0f}" for r, _ in rounds)
    print(f"workers={workers}: median {rps:7.1f} req/s ({each})  p50 {q[49]:6.1f} ms  p99 {q[98]:6.1f} ms")
    return rps


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (owner_url, where):
        asyncio.run(migrate.upgrade(owner_url))
        account_id, embed_secret = asyncio.run(create_account(derive_app_url(owner_url, "flowpilot_app", None)))
        token = mint_embed_token(account_id=account_id, secret=embed_secret, user_id="bench-tech", ttl_seconds=900)
        print(f"{where}; {os.cpu_count()} cores; {CLIENTS} clients; {ROUNDS} rounds of {SECONDS}s per server")
        single, single_url = start(owner_url, Path(tmp), 1)
        try:
            many, many_url = start(owner_url, Path(tmp), workers)
            try:
                created = httpx.post(
                    f"{single_url}/api/v1/ai-sessions",
                    json={"problem_statement": "Outlook asks for the password again and again"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                created.raise_for_status()
                path = f"/api/v1/ai-sessions/{created.json()['id']}"
                for url in (single_url, many_url):
                    asyncio.run(closed_loop(url, path, token, WARMUP_SECONDS))
                rounds: dict[str, list[tuple[float, list[float]]]] = {single_url: [], many_url: []}
                for _ in range(ROUNDS):
                    for url in (single_url, many_url):
                        rounds[url].append(measure(url, path, token))
            finally:
                stop(many)
        finally:
            stop(single)
        floor = report(1, rounds[single_url])
        scaled = report(workers, rounds[many_url])
    print(f"serve_workers_1_rps={floor:.1f} serve_workers_{workers}_rps={scaled:.1f} ratio={scaled / floor:.2f}")


if __name__ == "__main__":
    main()
