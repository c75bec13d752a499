"""AIPolicy (tiers, MCP flags, minimums, prices) and the cost functions."""

from __future__ import annotations

from typing import Any

import pytest

from flowpilot_core.ai.policy import AIPolicy, AIPolicyError, ModelPrice
from flowpilot_core.ai.pricing import cost_usd, uncached_cost_usd
from flowpilot_core.ai.types import TokenUsage


def test_defaults_pick_models_by_service_tier() -> None:
    policy = AIPolicy()
    assert policy.model_for("chat") == "claude-sonnet-4-6"
    assert policy.model_for("fact_synthesis") == "claude-haiku-4-5"
    assert policy.model_for("ai_parse") == "claude-haiku-4-5"
    assert policy.model_for("script_generation") == "claude-opus-4-8"
    assert policy.model_for("some_plugin_service") == "claude-sonnet-4-6"
    assert policy.mcp_allowed("chat") is True
    assert [s for s in policy.services if policy.mcp_allowed(s)] == ["chat"]
    assert policy.mcp_allowed("some_plugin_service") is False


def test_minimums_follow_the_documented_table_and_dated_ids() -> None:
    policy = AIPolicy()
    assert policy.min_cacheable_for("claude-haiku-4-5") == 4096
    assert policy.min_cacheable_for("claude-haiku-4-5-20251001") == 4096
    assert policy.min_cacheable_for("claude-sonnet-4-6") == 1024
    assert policy.min_cacheable_for("claude-opus-4-7") == 2048
    assert policy.min_cacheable_for("claude-opus-5") == 512
    assert policy.min_cacheable_for("some-local-model") == 1024


def test_config_then_account_overrides() -> None:
    config = {
        "tiers": {"deep": "claude-opus-5"},
        "services": {"resolution_note": {"tier": "deep"}, "chat": {"mcp": False}, "new_service": {"mcp": True}},
        "default_service": {"tier": "fast"},
        "min_cacheable_tokens": {"claude-sonnet-4-6": 2048},
        "prices": {"claude-sonnet-4-6": {"cache_read_multiplier": 0.05}, "local-llm": {"input": 0, "output": 0}},
        "cache_ttl": "1h",
        "anthropic": {"max_retries": 5},  # a provider's table: not the policy's business
    }
    policy = AIPolicy.from_config(config)
    assert policy.model_for("resolution_note") == "claude-opus-5"
    assert policy.service("chat").tier == "balanced" and not policy.mcp_allowed("chat")
    assert policy.service("new_service").tier == "balanced" and policy.mcp_allowed("new_service")
    assert policy.model_for("unlisted") == "claude-haiku-4-5"
    assert policy.min_cacheable_for("claude-sonnet-4-6") == 2048
    assert policy.price_for("claude-sonnet-4-6") == ModelPrice(input=3.0, output=15.0, cache_read_multiplier=0.05)
    assert policy.price_for("local-llm") == ModelPrice(input=0.0, output=0.0)
    assert (policy.cache_ttl, policy.static_cache_ttl) == ("1h", "1h")

    account = policy.with_overrides({"tiers": {"balanced": "claude-opus-4-8"}, "services": {"chat": {"mcp": True}}})
    assert account.model_for("chat") == "claude-opus-4-8"
    assert account.mcp_allowed("chat")
    assert policy.model_for("chat") == "claude-sonnet-4-6"  # the deployment policy is unchanged
    assert AIPolicy.from_config(config, {"services": {"chat": {"tier": "fast"}}}).model_for("chat") == (
        "claude-haiku-4-5"
    )


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"services": {"chat": {"tier": "turbo"}}}, "ai.services.chat.tier"),
        ({"services": {"chat": {"mcp": "yes"}}}, "ai.services.chat.mcp"),
        ({"services": {"chat": {"model": "x"}}}, "ai.services.chat.model"),
        ({"services": {"chat": "fast"}}, "ai.services.chat"),
        ({"tiers": {"fast": ""}}, "ai.tiers.fast"),
        ({"tiers": {"ultra": "claude-x"}}, "ai.tiers.ultra"),
        ({"prices": {"claude-sonnet-4-6": {"input": -1}}}, "ai.prices.claude-sonnet-4-6.input"),
        ({"prices": {"new-model": {"input": 1}}}, "ai.prices.new-model.output"),
        ({"min_cacheable_tokens": {"claude-haiku-4-5": True}}, "ai.min_cacheable_tokens.claude-haiku-4-5"),
        ({"cache_ttl": "10m"}, "ai.cache_ttl"),
        ({"cache_ttl": "1h", "static_cache_ttl": "5m"}, "ai.static_cache_ttl"),
        ({"caching": "off"}, "ai.caching"),
        ({"cachng": False}, "ai.cachng"),
        ({"trailing_context_keys": "facts"}, "ai.trailing_context_keys"),
    ],
)
def test_invalid_settings_name_their_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError) as info:
        AIPolicy.from_config(config)
    assert isinstance(info.value, AIPolicyError)
    assert str(info.value).startswith(key + ":")


def test_accounts_may_not_override_deployment_settings() -> None:
    with pytest.raises(AIPolicyError, match=r"^ai\.prices: cannot be overridden per account"):
        AIPolicy().with_overrides({"prices": {"claude-sonnet-4-6": {"input": 0}}})
    with pytest.raises(AIPolicyError, match=r"^ai\.services\.chat\.tier:"):
        AIPolicy().with_overrides({"services": {"chat": {"tier": "cheap"}}})


def test_the_default_ttls_are_an_hour_for_the_static_prefix_and_five_minutes_for_the_conversation() -> None:
    # Measured in bench/prompt_cache.py (its TTL table).
    assert (AIPolicy().static_cache_ttl, AIPolicy().cache_ttl) == ("1h", "5m")


def test_an_account_sets_its_conversation_cache_ttl() -> None:
    deployment = AIPolicy.from_config({"static_cache_ttl": "5m"})
    account = deployment.with_overrides({"cache_ttl": "1h"})
    # 1-hour breakpoints must precede 5-minute ones: the static ones follow the account's choice.
    assert (account.cache_ttl, account.static_cache_ttl) == ("1h", "1h")
    assert (deployment.cache_ttl, deployment.static_cache_ttl) == ("5m", "5m"), "the deployment is unchanged"
    assert AIPolicy().with_overrides({"cache_ttl": "5m"}).static_cache_ttl == "1h"
    with pytest.raises(AIPolicyError, match=r"^ai\.cache_ttl: '2h' is not one of 5m, 1h"):
        AIPolicy().with_overrides({"cache_ttl": "2h"})
    for key, value in (("static_cache_ttl", "5m"), ("caching", False)):
        with pytest.raises(AIPolicyError, match=rf"^ai\.{key}: cannot be overridden per account"):
            AIPolicy().with_overrides({key: value})


# -- pricing -------------------------------------------------------------------------------


def test_cost_uses_the_cache_multipliers() -> None:
    policy = AIPolicy()
    usage = TokenUsage(
        input_tokens=1_000,
        cache_creation_input_tokens=3_000,
        cache_creation_5m_input_tokens=2_000,
        cache_creation_1h_input_tokens=1_000,
        cache_read_input_tokens=10_000,
        output_tokens=500,
    )
    # Sonnet 4.6: $3 in, $15 out; 5m write $3.75, 1h write $6, read $0.30 per MTok.
    expected = (1_000 * 3 + 2_000 * 3.75 + 1_000 * 6 + 10_000 * 0.30 + 500 * 15) / 1e6
    assert cost_usd("claude-sonnet-4-6", usage, policy) == pytest.approx(expected)
    assert uncached_cost_usd("claude-sonnet-4-6", usage, policy) == pytest.approx((14_000 * 3 + 500 * 15) / 1e6)
    assert cost_usd("claude-sonnet-4-6-20260101", usage, policy) == pytest.approx(expected)


def test_unsplit_creation_is_billed_at_the_default_five_minute_rate() -> None:
    usage = TokenUsage(cache_creation_input_tokens=1_000_000)
    assert cost_usd("claude-haiku-4-5", usage, AIPolicy()) == pytest.approx(1.25)
    assert uncached_cost_usd("claude-haiku-4-5", usage, AIPolicy()) == pytest.approx(1.0)


def test_reads_make_a_call_cheaper_and_unknown_models_have_no_price() -> None:
    policy = AIPolicy()
    cached = TokenUsage(input_tokens=100, cache_read_input_tokens=9_900, output_tokens=200)
    assert cost_usd("claude-opus-4-8", cached, policy) < 0.2 * uncached_cost_usd("claude-opus-4-8", cached, policy)  # type: ignore[operator]
    assert cost_usd("mystery-model", cached, policy) is None
    assert uncached_cost_usd("mystery-model", cached, policy) is None
    fable = AIPolicy().price_for("claude-fable-5-1")
    assert fable is not None and fable.cache_read_multiplier == 0.025
