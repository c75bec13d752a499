"""Regenerate the screenshots in docs/img/ (used by docs/design-system.md).

    python tests/browser/screenshots.py                       # component gallery, light and dark
    python tests/browser/screenshots.py --flowpilot-url http://127.0.0.1:8000 --token <embed token> --session <id>
                                                               # also the /pilot shell from a running server

The gallery (static/design-system.html) needs no API, so it is served straight from the package's
static directory under /static/, as the FlowPilot server serves it.
"""

from __future__ import annotations

import argparse
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowpilot-url")
    parser.add_argument("--token")
    parser.add_argument("--session")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    server = serve_static()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for theme in THEMES:
            page = browser.new_page(viewport={"width": 1040, "height": 900}, color_scheme=theme, device_scale_factor=1)
            page.goto(f"{base}/static/design-system.html?theme={theme}")
            page.wait_for_timeout(400)
            for section in (
                SECTIONS if theme == "light" else ["colors", "buttons", "badges", "dialog", "toast", "empty"]
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
