"""FlowPilot core library: sessions, facts, fixes, previews, AI layer and plugin hooks."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("flowpilot")

__all__ = ["__version__", "hookimpl"]
