"""The FlowPilot widget: the /pilot surface, the embed.js loader and the example host portal, as static assets."""

import pathlib

STATIC_DIR = pathlib.Path(__file__).parent / "static"
