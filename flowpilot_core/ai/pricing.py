"""What a response cost, and what it would have cost without prompt caching.

Prices come from :class:`~flowpilot_core.ai.policy.AIPolicy` (USD per million tokens).
Cache writes are billed at the base input price times 1.25 (5-minute TTL) or 2 (1-hour
TTL), cache reads at 0.1 times (per-model multipliers are configurable). Both functions
return ``None`` for a model without a configured price, and for usage the provider did
not report (``usage.reported`` false), rather than guessing.

Estimated usage (the offline provider) is priced like billed usage: the figure says
what the same tokens would cost on the model, and ``usage.estimated`` tells reports
that nothing was actually billed.
"""

from __future__ import annotations

from flowpilot_core.ai.policy import AIPolicy, ModelPrice
from flowpilot_core.ai.types import TokenUsage

_MTOK = 1_000_000.0


def _split_creation(usage: TokenUsage) -> tuple[int, int]:
    """(5m, 1h) cache-write tokens; an unsplit remainder is billed as 5m (the API's default TTL)."""
    five = usage.cache_creation_5m_input_tokens
    hour = usage.cache_creation_1h_input_tokens
    rest = usage.cache_creation_input_tokens - five - hour
    return five + max(rest, 0), hour


def price_usage(price: ModelPrice, usage: TokenUsage) -> float:
    """Cost in USD of ``usage`` at ``price``, with the caching multipliers."""
    five, hour = _split_creation(usage)
    base = price.input
    total = (
        usage.input_tokens * base
        + five * base * price.cache_write_5m_multiplier
        + hour * base * price.cache_write_1h_multiplier
        + usage.cache_read_input_tokens * base * price.cache_read_multiplier
        + usage.output_tokens * price.output
    )
    return total / _MTOK


def price_uncached(price: ModelPrice, usage: TokenUsage) -> float:
    """Cost in USD of the same tokens if every input token had been sent uncached."""
    five, hour = _split_creation(usage)
    all_input = usage.input_tokens + five + hour + usage.cache_read_input_tokens
    return (all_input * price.input + usage.output_tokens * price.output) / _MTOK


def cost_usd(model: str, usage: TokenUsage, policy: AIPolicy) -> float | None:
    """What ``usage`` on ``model`` costs (``None`` when unpriced or when no usage was reported)."""
    price = policy.price_for(model)
    return None if price is None or not usage.reported else price_usage(price, usage)


def uncached_cost_usd(model: str, usage: TokenUsage, policy: AIPolicy) -> float | None:
    """What ``usage`` on ``model`` would cost without caching (``None`` when unpriced or unreported)."""
    price = policy.price_for(model)
    return None if price is None or not usage.reported else price_uncached(price, usage)


__all__ = ["cost_usd", "price_uncached", "price_usage", "uncached_cost_usd"]
