"""What a running server holds: the wired-up library (:class:`flowpilot_core.library.FlowPilot`).

Built in the app's startup hook so the engine belongs to the event loop that serves requests.
"""

from flowpilot_core.library import FlowPilot as Runtime
from flowpilot_core.library import build_model_provider, load_ai_policy

__all__ = ["Runtime", "build_model_provider", "load_ai_policy"]
