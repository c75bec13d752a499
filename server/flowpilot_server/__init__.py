"""FlowPilot's Litestar server: REST API, the /pilot surface, auth and embed tokens."""

from flowpilot_server.app import create_app

__all__ = ["create_app"]
