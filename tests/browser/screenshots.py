"""Regenerate the screenshots in docs/img/ (used by docs/design-system.md).

    python tests/browser/screenshots.py                       # component gallery, light and dark
    python tests/browser/screenshots.py --flowpilot-url http://127.0.0.1:8000 --token <embed token> --session <id>
                                                               # also the /pilot shell from a running server
    python tests/browser/screenshots.py --flowpilot-url http://127.0.0.1:8000 --token <embed token> --troubleshooting
                                                               # only the troubleshooting view: starts a printer
                                                               # session, works it through the API (offline model),
                                                               # then shoots pilot-troubleshooting(-390).png
    python tests/browser/screenshots.py --flowpilot-url http://127.0.0.1:8000 --token <embed token> --long-reference
                                                               # only the sidebar with a long ticket reference:
                                                               # pilot-long-ticket-ref.png
    python tests/browser/screenshots.py --flowpilot-url http://127.0.0.1:8000 --token <embed token> --usage
                                                               # only the usage dashboard: works three sessions
                                                               # first (offline model), resolves one, then shoots
                                                               # pilot-usage.png

The gallery (static/design-system.html) needs no API, so it is served straight from the package's
static directory under /static/, as the FlowPilot server serves it.
"""

from __future__ import annotations

import argparse
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from flowpilot_embed import STATIC_DIR
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).resolve().parents[2] / "docs" / "img"
Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")
SECTIONS = [
    "colors",
    "type",
    "spacing",
    "buttons",
    "icon-buttons",
    "badges",
    "cards",
    "forms",
    "popover",
    "dialog",
    "toast",
    "skeleton",
    "empty",
    "palette",
    "task-lane",
    "resolve",
    "icons",
]


class _StaticHandler(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        return super().translate_path(path[len("/static") :] if path.startswith("/static/") else path)

    def log_message(self, *args: object) -> None:
        pass


def serve_static() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(STATIC_DIR)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def populate_troubleshooting(flowpilot_url: str, token: str) -> str:
    """A session with a populated task lane: an answered question, a done check, an open check, facts, a note.

    Needs the offline model (its printer playbook asks these steps in this order).
    """
    import httpx

    base = f"{flowpilot_url}/api/v1/ai-sessions"
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
        response = httpx.request(method, base + path, json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    # The demo's own "Printing stuck in queue" ticket when it is still untouched, else a new session for it.
    listed = httpx.get(base, headers=headers, timeout=30).json().get("items", [])
    fresh = [
        item["id"]
        for item in listed
        if item.get("ticket_ref") == "48213"
        and item.get("status") == "open"
        and not httpx.get(f"{base}/{item['id']}/messages", headers=headers, timeout=30).json()["items"]
    ]
    session = (
        {"id": fresh[0]}
        if fresh
        else call(
            "POST",
            "",
            {
                "problem_statement": "Nobody in Accounting can print since this morning. "
                "Jobs sit in the queue on WS-ACC-04 and never reach the HP LaserJet. Restarting the PC did not help.",
                "title": "Printing stuck in queue - Accounting",
                "ticket_ref": "48213",
                "ticket": {
                    "summary": "Printing stuck in queue - Accounting",
                    "company": "Contoso Dental",
                    "contact": "Maria Lopez",
                    "board": "Service Desk",
                    "status": "New",
                },
            },
        )
    )
    sid = session["id"]
    question = call(
        "POST", f"/{sid}/messages", {"content": "Jobs pile up in the queue on WS-ACC-04. Where do I start?"}
    )
    qid = question["task_lane"]["questions"][0]["id"]
    call("POST", f"/{sid}/task-lane/{qid}/answer", {"answer": "Yes, everyone else on the floor prints fine"})
    spooler = call("POST", f"/{sid}/messages", {"content": "Others can print. What next?"})["task_lane"]["checks"][0]
    call(
        "POST",
        f"/{sid}/task-lane/{spooler['id']}/output",
        {"output": "Status  StartType Name\n------  --------- ----\nRunning Automatic Spooler"},
    )
    call("POST", f"/{sid}/messages", {"content": "The spooler is running."})
    call("POST", f"/{sid}/facts", {"text": "User already restarted WS-ACC-04 twice this morning"})
    return str(sid)


def shoot_troubleshooting(browser: Any, flowpilot_url: str, token: str, session: str) -> None:
    for name, width, height in (("pilot-troubleshooting", 1280, 800), ("pilot-troubleshooting-390", 390, 844)):
        page = browser.new_page(viewport={"width": width, "height": height}, color_scheme="light")
        page.goto(f"{flowpilot_url}/pilot/{session}#token={token}")
        page.wait_for_selector(".fp-app[data-state=ready]")
        page.wait_for_selector("fp-check-item", state="attached")
        page.wait_for_timeout(2200)  # let the highlight of new items fade
        if width < 1200:
            page.locator(".fp-session__lane-toggle").click()
            page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / f"{name}.png"))
        page.close()


LONG_REF = "CW-48213-ACCOUNTING-PRINTQUEUE-" + "WS-ACC-04-" * 3 + "7"


def shoot_long_reference(browser: Any, flowpilot_url: str, token: str) -> None:
    """The session list with a long ticket reference: cut with an ellipsis, the time still in the sidebar."""
    import httpx

    response = httpx.post(
        f"{flowpilot_url}/api/v1/ai-sessions",
        json={
            "problem_statement": "Jobs are stuck in the print queue on WS-ACC-04",
            "title": "Printing stuck in queue",
            "ticket_ref": LONG_REF,
            "psa_provider": "connectwise",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme="light")
    page.goto(f"{flowpilot_url}/pilot#token={token}")
    page.wait_for_selector(".fp-app[data-state=ready]")
    page.locator(f"fp-session-list a[data-id='{response.json()['id']}']").wait_for()
    page.wait_for_timeout(300)
    page.locator("#fp-sidebar").screenshot(path=str(OUT / "pilot-long-ticket-ref.png"))
    page.close()


def populate_usage(flowpilot_url: str, token: str) -> None:
    """AI usage from real calls: three sessions worked on the offline model, one resolved with an edited note."""
    import uuid

    import httpx

    base = f"{flowpilot_url}/api/v1/ai-sessions"
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
        response = httpx.request(method, base + path, json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    sessions = [
        ("Printing stuck in queue - Accounting", "Jobs sit in the queue on WS-ACC-04 and never reach the printer.", 4),
        ("Outlook keeps asking for a password", "Outlook prompts for the password every few minutes since Monday.", 3),
        ("VPN drops every hour", "The VPN disconnects about every hour for remote staff.", 2),
    ]
    for title, problem, turns in sessions:
        sid = call("POST", "", {"problem_statement": problem, "title": title})["id"]
        for n in range(turns):
            call("POST", f"/{sid}/messages", {"content": problem if n == 0 else "Done. What next?"})
        if title.startswith("Printing"):
            call("POST", f"/{sid}/facts", {"text": "Restarting WS-ACC-04 did not help"})
            preview = call("GET", f"/{sid}/resolution-note/preview")
            body = {
                "markdown": preview["markdown"] + "\nChecked with the user: printing works again.",
                "state_version": preview["state_version"],
                "idempotency_key": f"screenshot-{uuid.uuid4().hex}",
            }
            call("POST", f"/{sid}/resolution-note/post", body)


def shoot_usage(browser: Any, flowpilot_url: str, token: str) -> None:
    """/pilot/usage after real turns: the cost and token charts, the splits, the busiest sessions."""
    page = browser.new_page(viewport={"width": 1280, "height": 1640}, color_scheme="light")
    page.goto(f"{flowpilot_url}/pilot/usage#token={token}")
    page.wait_for_selector("fp-usage-view[data-state=ready]")
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / "pilot-usage.png"))
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowpilot-url")
    parser.add_argument("--token")
    parser.add_argument("--session")
    parser.add_argument("--troubleshooting", action="store_true", help="only the populated troubleshooting view")
    parser.add_argument("--long-reference", action="store_true", help="only the sidebar with a long ticket reference")
    parser.add_argument("--usage", action="store_true", help="only the usage dashboard, after working a session")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.usage:
        if not (args.flowpilot_url and args.token):
            parser.error("--usage needs --flowpilot-url and --token")
        populate_usage(args.flowpilot_url, args.token)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shoot_usage(browser, args.flowpilot_url, args.token)
            browser.close()
        print(f"screenshot written to {OUT / 'pilot-usage.png'}")
        return
    if args.long_reference:
        if not (args.flowpilot_url and args.token):
            parser.error("--long-reference needs --flowpilot-url and --token")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shoot_long_reference(browser, args.flowpilot_url, args.token)
            browser.close()
        print(f"screenshot written to {OUT / 'pilot-long-ticket-ref.png'}")
        return
    if args.troubleshooting:
        if not (args.flowpilot_url and args.token):
            parser.error("--troubleshooting needs --flowpilot-url and --token")
        session = args.session or populate_troubleshooting(args.flowpilot_url, args.token)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shoot_troubleshooting(browser, args.flowpilot_url, args.token, session)
            browser.close()
        print(f"screenshots written to {OUT}")
        return
    server = serve_static()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for theme in THEMES:
            page = browser.new_page(viewport={"width": 1040, "height": 900}, color_scheme=theme, device_scale_factor=1)
            page.goto(f"{base}/static/design-system.html?theme={theme}")
            page.wait_for_timeout(400)
            for section in (
                SECTIONS
                if theme == "light"
                else ["colors", "buttons", "badges", "dialog", "toast", "empty", "task-lane", "resolve"]
            ):
                page.locator(f"#{section}").screenshot(
                    path=str(OUT / f"ds-{section}{'' if theme == 'light' else '-dark'}.png")
                )
            page.close()
        if args.flowpilot_url and args.token:
            shots: list[tuple[str, int, int, Theme]] = [
                ("pilot-1280", 1280, 800, "light"),
                ("pilot-1100-drawer", 1100, 760, "dark"),
                ("pilot-390", 390, 844, "light"),
            ]
            for name, width, height, theme in shots:
                page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=theme)
                target = f"/pilot/{args.session}" if args.session else "/pilot"
                page.goto(f"{args.flowpilot_url}{target}#token={args.token}")
                page.wait_for_selector(".fp-app[data-state=ready]")
                page.wait_for_timeout(500)
                if "drawer" in name:
                    page.locator(".fp-session__lane-toggle").click()
                    page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / f"{name}.png"))
                page.close()
        browser.close()
    server.shutdown()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
