"""What the request guard costs: ``decode_json_body`` (parse, depth, NUL and number checks) per body.

Every JSON body is parsed once by the guard before the handler parses it again, so this is the
added work per request. Bodies: a chat message, a session with a ticket, a 64 KB check output
(the largest body the API accepts for one field), and an account's ``ai`` settings.

Run from the repository root: ``.venv/bin/python bench/input_guard.py``. The last line is
``input_guard_us_per_body=<worst body's median>``.
"""

from __future__ import annotations

import json
import statistics
import time

from flowpilot_server.input_guard import decode_json_body

BODIES = {
    "chat message": {"content": "Users in Accounting cannot print since this morning.", "client_message_id": "m-1"},
    "session with ticket": {
        "problem_statement": "Outlook keeps asking for password " * 20,
        "ticket": {"summary": "Outlook password prompts", "company": "Northwind", "ref": "48220", "priority": "High"},
    },
    "64 KB check output": {
        "output": ("Get-PrintJob -PrinterName HP  Status: Error  Spooler: stopped\n" * 1100)[:65000]
    },
    "ai settings": {"ai": {"services": {name: {"tier": "deep", "max_tokens": 2048} for name in "abcdefghij"}}},
}
ROUNDS = 2000


def main() -> None:
    worst = 0.0
    for name, value in BODIES.items():
        body = json.dumps(value).encode()
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            decode_json_body(body)
            samples.append((time.perf_counter() - start) * 1e6)
        median = statistics.median(samples)
        worst = max(worst, median)
        p99 = sorted(samples)[int(ROUNDS * 0.99)]
        print(f"{name:<22} {len(body):>7} bytes  median {median:8.1f} us  p99 {p99:8.1f} us")
    print(f"input_guard_us_per_body={worst:.1f}")


if __name__ == "__main__":
    main()
