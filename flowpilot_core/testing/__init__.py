"""Test kits for FlowPilot and its plugin authors.

- :mod:`flowpilot_core.testing.fake_anthropic`: :class:`FakeAnthropic`, a local HTTP fake
  of the Anthropic Messages API that follows the documented prompt-caching rules, for
  testing model-provider code through the real ``anthropic`` SDK.
"""

from flowpilot_core.testing.fake_anthropic import FakeAnthropic, Hang, ManualClock, RecordedRequest

__all__ = ["FakeAnthropic", "Hang", "ManualClock", "RecordedRequest"]
