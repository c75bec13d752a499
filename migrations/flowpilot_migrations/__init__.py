"""FlowPilot's Alembic environment and versions, shipped inside the wheel."""

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).parent
