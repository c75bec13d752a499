"""Which model each service uses, which may call MCP tools, and what tokens cost.

:class:`AIPolicy` is built from defaults, then the ``[ai]`` table of ``flowpilot.toml``,
then an account's overrides::

    policy = AIPolicy.from_config(settings.ai).with_overrides(account_prefs.get("ai", {}))

Config shape (every key optional)::

    [ai]
    caching = true                  # false: send no cache_control at all (benchmarks, debugging)
    cache_ttl = "5m"                # TTL of the context and conversation breakpoints ("5m" | "1h")
    static_cache_ttl = "1h"         # TTL of the tools and static-system breakpoints; "1h" may precede "5m"
    trailing_context_keys = ["facts", "task_lane"]  # context that changes during a session: after the history
    default_min_cacheable_tokens = 1024

    [ai.tiers]                      # tier -> model id
    fast = "claude-haiku-4-5"
    balanced = "claude-sonnet-4-6"
    deep = "claude-opus-4-8"

    [ai.timeouts]                   # seconds, for every service (defaults shown)
    connect = 10                    # per attempt: opening the connection
    first_byte = 60                 # per attempt: until the response starts (a non-streamed reply: all of it)
    stream_idle = 30                # a started stream: the longest silence between two events
    deadline = 120                  # the whole call: every attempt and SDK retry, the whole stream

    [ai.services.chat]              # per service: model tier, MCP capability flag, timeouts, provider
    tier = "balanced"
    mcp = true
    timeouts = { deadline = 90 }    # only the keys given; the rest from [ai.timeouts]
    provider = "openai_compat"      # optional: this service's model provider (default FLOWPILOT_MODEL_PROVIDER)

    [ai.openai_compat.tiers]        # optional, per provider: tier -> model id when that provider serves a call
    fast = "llama3.1:8b"
    balanced = "qwen2.5:32b"
    deep = "qwen2.5:72b"

    [ai.default_service]            # services not listed
    tier = "balanced"
    mcp = false

    [ai.min_cacheable_tokens]       # per model: smallest prefix the API caches
    "claude-sonnet-4-6" = 2048

    [ai.prices."claude-sonnet-4-6"] # USD per million tokens
    input = 3.0
    output = 15.0
    cache_read_multiplier = 0.1     # optional; also cache_write_5m_multiplier, cache_write_1h_multiplier

Other tables under ``[ai]`` (``[ai.anthropic]``, ``[ai.openai_compat]``, ...) belong to
providers and are ignored here, except their ``tiers`` table: a provider that serves a call
uses its own tiers when it has them (all three), else ``[ai.tiers]``. An invalid value
raises :class:`AIPolicyError` (a ``ValueError``) whose message starts with the setting's
key, e.g. ``ai.services.chat.tier: 'turbo' is not one of ...``.

Accounts may override ``tiers``, ``services`` (``provider`` included), ``timeouts``, a
provider's ``tiers`` (``{"openai_compat": {"tiers": {...}}}``) and ``cache_ttl`` only: prices,
minimums, whether to cache and the static prefix's TTL are properties of the deployment, not
of a tenant (the static prefix is one cache entry shared by every account).

TTL defaults, measured by ``bench/prompt_cache.py`` (its TTL table): the static prefix
(tools, role, marker grammar, worked examples) is byte-identical for every session of every
account, so its 1-hour entry is shared: a session opened up to an hour after any other call
reads it. The 1-hour write costs 0.75x of the prefix more than a 5-minute one, and only when
the prefix has gone unused for an hour (reads refresh it); the 5-minute TTL pays 1.15x of it
again after every gap of more than five minutes between calls. So 1 hour is cheaper as soon
as sessions or pauses leave such gaps, and dearer only for back-to-back sessions or sessions
hours apart. The conversation's own breakpoints stay at 5 minutes: turns are a minute or two
apart, and a 1-hour TTL bills every turn's new history at 2x to save a re-write only after a
pause. An account whose technicians pause often sets ``cache_ttl = "1h"`` (its static
breakpoints are then 1-hour too, as the API requires).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

Tier = Literal["fast", "balanced", "deep"]
TIERS: tuple[str, ...] = ("fast", "balanced", "deep")
TTL = Literal["5m", "1h"]
TTLS: tuple[str, ...] = ("5m", "1h")
# The shape of a provider name (as FLOWPILOT_MODEL_PROVIDER checks it); which names exist depends on the plugins.
_PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class AIPolicyError(ValueError):
    """An AI setting has an unusable value; the message starts with the setting's key."""


MAX_TIMEOUT_SECONDS = 600.0
"""No timeout may exceed the SDK's own default: longer waits only keep a technician waiting."""
TIMEOUT_KEYS: tuple[str, ...] = ("connect", "first_byte", "stream_idle", "deadline")


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    """How long one AI call may take, in seconds.

    ``connect`` and ``first_byte`` apply to each HTTP attempt, so the SDK can retry an
    attempt that timed out; the provider enforces them. ``stream_idle`` and ``deadline``
    are enforced by ``chat_call_cached`` for every provider; the deadline spans every
    attempt and retry and, for a stream, the stream to its end. Reaching any of them is
    a retryable :class:`~flowpilot_core.ai.errors.AITimedOut`.
    """

    connect: float = 10.0
    first_byte: float = 60.0
    """For a non-streamed call the API sends nothing until the reply is complete, so this bounds it all."""
    stream_idle: float = 30.0
    deadline: float = 120.0


class ServicePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What one FlowPilot service may use."""

    tier: str = "balanced"
    """Model tier: ``fast``, ``balanced`` or ``deep``."""
    mcp: bool = False
    """Whether requests of this service may carry MCP servers and ``mcp_toolset`` tools."""
    timeouts: dict[str, float] = msgspec.field(default_factory=dict)
    """This service's own timeouts (keys of :class:`Timeouts`); the others come from ``AIPolicy.timeouts``."""
    provider: str | None = None
    """The model provider serving this service; ``None``: the deployment's (``FLOWPILOT_MODEL_PROVIDER``)."""


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """List prices of one model in USD per million tokens, with prompt-caching multipliers."""

    input: float
    output: float
    cache_write_5m_multiplier: float = 1.25
    cache_write_1h_multiplier: float = 2.0
    cache_read_multiplier: float = 0.1


DEFAULT_TIER_MODELS: dict[str, str] = {
    "fast": "claude-haiku-4-5",
    "balanced": "claude-sonnet-4-6",
    "deep": "claude-opus-4-8",
}

# MCP is on only for chat: it is the interactive surface where live lookups (RMM,
# documentation servers) help, and it does nothing until an administrator configures
# MCP servers. Generators stay off: notes and packages must come from stored facts only.
DEFAULT_SERVICES: dict[str, ServicePolicy] = {
    "chat": ServicePolicy(tier="balanced", mcp=True),
    "fact_synthesis": ServicePolicy(tier="fast"),
    "resolution_note": ServicePolicy(tier="balanced"),
    "escalation_package": ServicePolicy(tier="balanced"),
    "template_extraction": ServicePolicy(tier="balanced"),
    # Scripts run on customers' machines: worth the most careful model.
    "script_generation": ServicePolicy(tier="deep"),
    "ai_parse": ServicePolicy(tier="fast"),
    # Points at a value a fact or the ticket already names (and is checked against them): a small task.
    "script_prefill": ServicePolicy(tier="fast"),
}

# Minimum cacheable prefix per model (Claude API docs, snapshot 2026-08-21). Below it the
# API silently caches nothing. Sonnet 4.6 is documented at 1,024 but was observed at
# about 2,048 (anthropic-sdk-python#1194): override per deployment if usage shows misses.
DEFAULT_MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-mythos-5": 512,
    "claude-opus-4-8": 1024,
    "claude-sonnet-5": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4-0": 1024,
    "claude-sonnet-4-0": 1024,
    "claude-mythos-preview": 2048,
    "claude-opus-4-7": 2048,
    "claude-3-5-haiku": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
}
DEFAULT_MIN_FALLBACK = 1024

# USD per MTok from the Claude pricing page. Fable/Mythos 5.1 read at $0.25 (0.025x).
# Models missing here are priced as unknown (cost None) until configured.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-fable-5-1": ModelPrice(input=10.0, output=50.0, cache_read_multiplier=0.025),
    "claude-mythos-5-1": ModelPrice(input=10.0, output=50.0, cache_read_multiplier=0.025),
    "claude-fable-5": ModelPrice(input=10.0, output=50.0),
    "claude-mythos-5": ModelPrice(input=10.0, output=50.0),
    "claude-opus-5": ModelPrice(input=5.0, output=25.0),
    "claude-opus-4-8": ModelPrice(input=5.0, output=25.0),
    "claude-opus-4-7": ModelPrice(input=5.0, output=25.0),
    "claude-opus-4-6": ModelPrice(input=5.0, output=25.0),
    "claude-opus-4-5": ModelPrice(input=5.0, output=25.0),
    "claude-opus-4-1": ModelPrice(input=15.0, output=75.0),
    "claude-opus-4-0": ModelPrice(input=15.0, output=75.0),
    "claude-sonnet-4-6": ModelPrice(input=3.0, output=15.0),
    "claude-sonnet-4-5": ModelPrice(input=3.0, output=15.0),
    "claude-sonnet-4-0": ModelPrice(input=3.0, output=15.0),
    "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0),
    "claude-3-5-haiku": ModelPrice(input=0.8, output=4.0),
}

_DATED = re.compile(r"^(?P<base>.+)-\d{8}$")


def model_aliases(model: str) -> tuple[str, ...]:
    """Names to look ``model`` up by: itself, then without a ``-YYYYMMDD`` snapshot suffix."""
    match = _DATED.match(model)
    return (model, match.group("base")) if match else (model,)


def _err(key: str, message: str) -> AIPolicyError:
    return AIPolicyError(f"{key}: {message}")


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _err(key, f"must be a table, got {type(value).__name__}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _err(key, f"must be true or false, got {value!r}")
    return value


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _err(key, f"{value!r} is not one of {', '.join(choices)}")
    return value


def _model_id(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise _err(key, f"{value!r} is not a model id (a non-empty string without surrounding spaces)")
    return value


def _count(value: Any, key: str) -> int:
    # bool is an int subclass: `true` must not silently mean 1 token.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _err(key, f"{value!r} is not a whole number >= 0")
    return value


def _money(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise _err(key, f"{value!r} is not a number >= 0")
    return float(value)


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise _err(key, f"{value!r} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}")
    return float(value)


def _timeouts(value: Any, key: str, base: Mapping[str, float]) -> dict[str, float]:
    """``base`` with the timeouts of table ``value`` applied (only the keys it sets)."""
    table = _table(value, key)
    _unknown(table, TIMEOUT_KEYS, key)
    merged = dict(base)
    for name in TIMEOUT_KEYS:
        if name in table:
            merged[name] = _seconds(table[name], f"{key}.{name}")
    return merged


def _resolved_timeouts(values: Mapping[str, float], key: str) -> Timeouts:
    timeouts = Timeouts(**values)
    # A stream's reads are bounded by the per-attempt read timeout (first_byte) as well, so
    # a longer stream_idle could never be reached: say so instead of silently capping it.
    if timeouts.stream_idle > timeouts.first_byte:
        raise _err(
            f"{key}.stream_idle",
            f"{timeouts.stream_idle:g} must not exceed first_byte ({timeouts.first_byte:g})",
        )
    return timeouts


def _unknown(table: Mapping[str, Any], allowed: tuple[str, ...], key: str) -> None:
    for name in table:
        if name not in allowed:
            raise _err(f"{key}.{name}", f"unknown setting (expected one of {', '.join(allowed)})")


def _provider_name(value: Any, key: str) -> str | None:
    # An empty string clears a provider set before (an account going back to the deployment's).
    if value == "":
        return None
    if not isinstance(value, str) or not _PROVIDER_NAME.fullmatch(value):
        raise _err(key, f"{value!r} is not a provider name (lower-case letters, digits, '_', '-', '.')")
    return value


def _service(value: Any, key: str, base: ServicePolicy) -> ServicePolicy:
    table = _table(value, key)
    _unknown(table, ("tier", "mcp", "timeouts", "provider"), key)
    tier = _choice(table["tier"], f"{key}.tier", TIERS) if "tier" in table else base.tier
    mcp = _bool(table["mcp"], f"{key}.mcp") if "mcp" in table else base.mcp
    timeouts = _timeouts(table["timeouts"], f"{key}.timeouts", base.timeouts) if "timeouts" in table else base.timeouts
    provider = _provider_name(table["provider"], f"{key}.provider") if "provider" in table else base.provider
    return ServicePolicy(tier=tier, mcp=mcp, timeouts=timeouts, provider=provider)


def _provider_tiers(value: Any, key: str, base: Mapping[str, str] | None) -> dict[str, str]:
    """A provider's tier table, over ``base`` (its tiers so far); all three tiers must end up named."""
    table = _table(value, key)
    _unknown(table, TIERS, key)
    tiers = dict(base or {})
    for tier, model in table.items():
        tiers[tier] = _model_id(model, f"{key}.{tier}")
    missing = [t for t in TIERS if t not in tiers]
    if missing:
        raise _err(key, f"names no model for {', '.join(missing)} (a provider's tiers must name {', '.join(TIERS)})")
    return tiers


_PRICE_KEYS = ("input", "output", "cache_write_5m_multiplier", "cache_write_1h_multiplier", "cache_read_multiplier")


def _price(value: Any, key: str, base: ModelPrice | None) -> ModelPrice:
    table = _table(value, key)
    _unknown(table, _PRICE_KEYS, key)
    fields: dict[str, float] = {}
    for name in _PRICE_KEYS:
        if name in table:
            fields[name] = _money(table[name], f"{key}.{name}")
        elif base is not None:
            fields[name] = getattr(base, name)
        elif name in ("input", "output"):
            raise _err(f"{key}.{name}", "is required for a model without a default price")
    return ModelPrice(**fields)


_TOP_SCALARS = ("caching", "cache_ttl", "static_cache_ttl", "trailing_context_keys", "default_min_cacheable_tokens")
_TOP_TABLES = ("tiers", "services", "default_service", "min_cacheable_tokens", "prices", "timeouts")
_ACCOUNT_TABLES = ("tiers", "services", "timeouts")
_ACCOUNT_SCALARS = ("cache_ttl",)


class AIPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The resolved AI settings of a deployment (and, after :meth:`with_overrides`, an account)."""

    tiers: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_TIER_MODELS))
    services: dict[str, ServicePolicy] = msgspec.field(default_factory=lambda: dict(DEFAULT_SERVICES))
    default_service: ServicePolicy = ServicePolicy()
    min_cacheable_tokens: dict[str, int] = msgspec.field(default_factory=lambda: dict(DEFAULT_MIN_CACHEABLE_TOKENS))
    default_min_cacheable_tokens: int = DEFAULT_MIN_FALLBACK
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=lambda: dict(DEFAULT_PRICES))
    caching: bool = True
    cache_ttl: str = "5m"
    static_cache_ttl: str = "1h"
    trailing_context_keys: tuple[str, ...] = ("facts", "task_lane")
    timeouts: Timeouts = Timeouts()
    """Every service's timeouts unless its :attr:`ServicePolicy.timeouts` says otherwise."""
    provider_tiers: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    """Per provider name, its own tier -> model table (``[ai.<provider>.tiers]``); others use :attr:`tiers`."""

    # -- lookups -------------------------------------------------------------------------

    def service(self, name: str) -> ServicePolicy:
        """The policy of service ``name`` (the default service policy when not configured)."""
        return self.services.get(name, self.default_service)

    def model_for(self, service: str, provider: str | None = None) -> str:
        """The model id the service's tier maps to, in ``provider``'s tiers when it has its own."""
        tiers = self.provider_tiers.get(provider, self.tiers) if provider else self.tiers
        return tiers[self.service(service).tier]

    def provider_for(self, service: str) -> str | None:
        """The provider the service names, or ``None`` for the deployment's default provider."""
        return self.service(service).provider

    def mcp_allowed(self, service: str) -> bool:
        """Whether the service may send MCP servers and toolsets."""
        return self.service(service).mcp

    def timeouts_for(self, service: str) -> Timeouts:
        """The timeouts of ``service``: its own where it sets them, else the policy's."""
        own = self.service(service).timeouts
        return msgspec.structs.replace(self.timeouts, **own) if own else self.timeouts

    def min_cacheable_for(self, model: str) -> int:
        """Smallest prefix (tokens) the model caches."""
        for name in model_aliases(model):
            if name in self.min_cacheable_tokens:
                return self.min_cacheable_tokens[name]
        return self.default_min_cacheable_tokens

    def price_for(self, model: str) -> ModelPrice | None:
        """The model's prices, or ``None`` when it has none configured."""
        for name in model_aliases(model):
            if name in self.prices:
                return self.prices[name]
        return None

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None = None, account_overrides: Mapping[str, Any] | None = None
    ) -> AIPolicy:
        """Defaults, then the ``[ai]`` config table, then an account's overrides."""
        policy = cls()._merged(config or {}, key="ai", account=False)
        if account_overrides:
            policy = policy.with_overrides(account_overrides)
        return policy

    def with_overrides(self, overrides: Mapping[str, Any]) -> AIPolicy:
        """This policy with an account's ``tiers``/``services``/``timeouts`` overrides applied."""
        return self._merged(overrides, key="ai", account=True)

    def _merged(self, config: Mapping[str, Any], *, key: str, account: bool) -> AIPolicy:
        config = _table(config, key)
        allowed_tables = _ACCOUNT_TABLES if account else _TOP_TABLES
        provider_tiers = {name: dict(tiers) for name, tiers in self.provider_tiers.items()}
        for name, value in config.items():
            if name in allowed_tables or name in (_ACCOUNT_SCALARS if account else _TOP_SCALARS):
                continue
            if name not in _TOP_SCALARS and name not in _TOP_TABLES and isinstance(value, Mapping):
                # A provider's own table, e.g. [ai.anthropic]; only its tiers are the policy's.
                if account and set(value) != {"tiers"}:
                    raise _err(f"{key}.{name}", "only a provider's tiers can be overridden per account")
                if "tiers" in value:
                    provider_tiers[name] = _provider_tiers(
                        value["tiers"], f"{key}.{name}.tiers", provider_tiers.get(name)
                    )
                continue
            if account:
                raise _err(
                    f"{key}.{name}",
                    "cannot be overridden per account "
                    f"(allowed: {', '.join(_ACCOUNT_TABLES + _ACCOUNT_SCALARS)}, <provider>.tiers)",
                )
            raise _err(f"{key}.{name}", f"unknown setting (expected one of {', '.join(_TOP_SCALARS + _TOP_TABLES)})")

        tiers = dict(self.tiers)
        if "tiers" in config:
            table = _table(config["tiers"], f"{key}.tiers")
            _unknown(table, TIERS, f"{key}.tiers")
            for tier, model in table.items():
                tiers[tier] = _model_id(model, f"{key}.tiers.{tier}")

        services = dict(self.services)
        if "services" in config:
            table = _table(config["services"], f"{key}.services")
            for name, value in table.items():
                base = services.get(name, self.default_service)
                services[name] = _service(value, f"{key}.services.{name}", base)

        default_service = self.default_service
        if "default_service" in config:
            default_service = _service(config["default_service"], f"{key}.default_service", default_service)

        mins = dict(self.min_cacheable_tokens)
        if "min_cacheable_tokens" in config:
            table = _table(config["min_cacheable_tokens"], f"{key}.min_cacheable_tokens")
            for model, value in table.items():
                mins[_model_id(model, f"{key}.min_cacheable_tokens")] = _count(
                    value, f"{key}.min_cacheable_tokens.{model}"
                )
        default_min = self.default_min_cacheable_tokens
        if "default_min_cacheable_tokens" in config:
            default_min = _count(config["default_min_cacheable_tokens"], f"{key}.default_min_cacheable_tokens")

        prices = dict(self.prices)
        if "prices" in config:
            table = _table(config["prices"], f"{key}.prices")
            for model, value in table.items():
                model = _model_id(model, f"{key}.prices")
                prices[model] = _price(value, f"{key}.prices.{model}", self.price_for(model))

        caching = _bool(config["caching"], f"{key}.caching") if "caching" in config else self.caching
        cache_ttl = _choice(config["cache_ttl"], f"{key}.cache_ttl", TTLS) if "cache_ttl" in config else self.cache_ttl
        static_ttl = (
            _choice(config["static_cache_ttl"], f"{key}.static_cache_ttl", TTLS)
            if "static_cache_ttl" in config
            else self.static_cache_ttl
        )
        # The API requires 1h breakpoints to precede 5m ones, and the static ones come first:
        # a 1h conversation TTL implies 1h static breakpoints unless set otherwise.
        if cache_ttl == "1h" and "static_cache_ttl" not in config:
            static_ttl = "1h"
        if static_ttl == "5m" and cache_ttl == "1h":
            raise _err(
                f"{key}.static_cache_ttl",
                "must be '1h' when cache_ttl is '1h' (1-hour breakpoints must precede 5-minute ones)",
            )
        trailing = self.trailing_context_keys
        if "trailing_context_keys" in config:
            raw = config["trailing_context_keys"]
            if not isinstance(raw, list | tuple) or not all(isinstance(k, str) and k for k in raw):
                raise _err(f"{key}.trailing_context_keys", f"{raw!r} is not a list of context key names")
            trailing = tuple(dict.fromkeys(raw))  # de-duplicated, order kept (no sets: order must be stable)

        timeouts = self.timeouts
        if "timeouts" in config:
            values = _timeouts(config["timeouts"], f"{key}.timeouts", msgspec.structs.asdict(self.timeouts))
            timeouts = _resolved_timeouts(values, f"{key}.timeouts")

        for name, service in services.items():
            if service.tier not in tiers:
                raise _err(f"{key}.services.{name}.tier", f"{service.tier!r} has no model in {key}.tiers")
            if service.timeouts:
                _resolved_timeouts(
                    {**msgspec.structs.asdict(timeouts), **service.timeouts}, f"{key}.services.{name}.timeouts"
                )

        return AIPolicy(
            tiers=tiers,
            services=services,
            default_service=default_service,
            min_cacheable_tokens=mins,
            default_min_cacheable_tokens=default_min,
            prices=prices,
            caching=caching,
            cache_ttl=cache_ttl,
            static_cache_ttl=static_ttl,
            trailing_context_keys=trailing,
            timeouts=timeouts,
            provider_tiers=provider_tiers,
        )


__all__ = [
    "DEFAULT_MIN_CACHEABLE_TOKENS",
    "DEFAULT_PRICES",
    "DEFAULT_SERVICES",
    "DEFAULT_TIER_MODELS",
    "MAX_TIMEOUT_SECONDS",
    "TIERS",
    "AIPolicy",
    "AIPolicyError",
    "ModelPrice",
    "ServicePolicy",
    "Timeouts",
    "model_aliases",
]
