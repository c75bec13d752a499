"""The offline provider, the plugin registrations, and the anthropic import boundary."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flowpilot_anthropic
import flowpilot_offline
import pluggy
import pytest
from flowpilot_anthropic.provider import AnthropicProvider
from flowpilot_offline.provider import OfflineProvider, word_chunks

from flowpilot_core import hookspecs
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import (
    MemoryUsageSink,
    ModelProvider,
    chat_call_cached,
    chat_call_cached_stream,
    prepare_call,
    provider_from_registry,
)
from flowpilot_core.ai.tokens import estimate_request_tokens, estimate_text_tokens
from flowpilot_core.ai.types import CallSpec, Completion
from flowpilot_core.plugins import collect

from .support import chat_spec

REPO = Path(__file__).resolve().parents[2]
Brain = Callable[[Callable[[CallSpec], str]], list[CallSpec]]
REPLY = "Restart the Print Spooler service, then  clear C:\\Windows\\System32\\spool\\PRINTERS.\n[CHECK] Is it running?"


async def test_offline_replies_come_from_the_brain_with_estimated_usage(brain: Brain) -> None:
    seen = brain(lambda spec: REPLY)
    sink = MemoryUsageSink()
    spec = chat_spec()
    completion = await chat_call_cached(spec, provider=OfflineProvider(), policy=AIPolicy(), usage_sink=sink)
    assert seen == [spec]  # the brain gets the CallSpec itself
    assert completion.text == REPLY
    expected_input = estimate_request_tokens(prepare_call(spec, policy=AIPolicy()).kwargs)
    assert completion.usage.input_tokens == expected_input
    assert completion.usage.output_tokens == estimate_text_tokens(REPLY)
    assert completion.usage.estimated
    assert completion.usage.cache_read_input_tokens == completion.usage.cache_creation_input_tokens == 0
    (record,) = sink.records
    assert record.provider == "offline" and record.usage.estimated and record.error is None


async def test_offline_streams_word_sized_chunks(brain: Brain) -> None:
    brain(lambda spec: REPLY)
    sink = MemoryUsageSink()
    items = [
        item
        async for item in chat_call_cached_stream(
            chat_spec(), provider=OfflineProvider(), policy=AIPolicy(), usage_sink=sink
        )
    ]
    *deltas, final = items
    assert isinstance(final, Completion) and final.text == REPLY
    assert all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == REPLY  # type: ignore[arg-type]
    assert len(deltas) == len(REPLY.split())
    assert sink.records[0].streamed and sink.records[0].usage == final.usage


def test_word_chunks_keep_every_character() -> None:
    for text in ["", "one", "  lead and trail  ", "a\n\nb\tc", REPLY]:
        chunks = word_chunks(text)
        assert "".join(chunks) == text
        assert all(len(c.split()) <= 1 for c in chunks)


async def test_a_failing_brain_is_an_ai_error_and_is_deterministic(brain: Brain) -> None:
    def respond(spec: CallSpec) -> str:
        if "boom" in spec.request:
            raise RuntimeError("no playbook")
        return f"echo {spec.request}"

    brain(respond)
    sink = MemoryUsageSink()
    provider = OfflineProvider()
    with pytest.raises(AIError, match="offline assistant"):
        await chat_call_cached(chat_spec(request="boom"), provider=provider, policy=AIPolicy(), usage_sink=sink)
    a = await chat_call_cached(chat_spec(), provider=provider, policy=AIPolicy(), usage_sink=sink)
    b = await chat_call_cached(chat_spec(), provider=provider, policy=AIPolicy(), usage_sink=sink)
    assert a == b
    assert [r.error for r in sink.records] == ["ai_error", None, None]


def test_both_providers_register_through_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    manager = pluggy.PluginManager("flowpilot")
    manager.add_hookspecs(hookspecs)
    manager.register(flowpilot_anthropic, name="anthropic")
    manager.register(flowpilot_offline, name="offline")
    registry = collect(manager)
    assert sorted(registry.model_providers) == ["anthropic", "offline"]
    assert registry.owners[("model provider", "anthropic")] == "anthropic"

    offline = provider_from_registry(registry, "offline")
    assert isinstance(offline, ModelProvider) and offline.name == "offline"
    settings: dict[str, Any] = {
        "anthropic_api_key": "sk-test",
        "anthropic_base_url": "http://127.0.0.1:9",
        "ai": {"anthropic": {"max_retries": 4, "timeout": 30}},
    }
    anthropic_provider = provider_from_registry(registry, "anthropic", settings)
    assert isinstance(anthropic_provider, AnthropicProvider) and isinstance(anthropic_provider, ModelProvider)
    assert anthropic_provider.max_retries == 4
    assert str(anthropic_provider.client.base_url).startswith("http://127.0.0.1:9")
    assert anthropic_provider.client.max_retries == 4
    with pytest.raises(ValueError, match=r"not registered .*anthropic, offline"):
        provider_from_registry(registry, "openai")
    with pytest.raises(ValueError, match=r"^ai\.anthropic\.retries"):
        provider_from_registry(registry, "anthropic", {"ai": {"anthropic": {"retries": 1}}})
    with pytest.raises(ValueError, match=r"^ai\.anthropic\.timeout"):
        provider_from_registry(registry, "anthropic", {"ai": {"anthropic": {"timeout": 0}}})


def test_anthropic_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:7")
    provider = AnthropicProvider()
    assert provider.client.api_key == "sk-env"
    assert str(provider.client.base_url).startswith("http://127.0.0.1:7")
    assert provider.max_retries == 2


# -- the import boundary ---------------------------------------------------------------------


def _is_sdk(name: str | None) -> bool:
    return (name or "").split(".")[0] == "anthropic"


def _imports_sdk(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(_is_sdk(alias.name) for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and _is_sdk(node.module)
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        dynamic = (isinstance(node.func, ast.Name) and node.func.id == "__import__") or (
            isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
        )
        return dynamic and isinstance(node.args[0].value, str) and _is_sdk(node.args[0].value)
    return False


def _imports_anthropic(tree: ast.AST) -> list[int]:
    """Line numbers of every static or dynamic import of the anthropic SDK in ``tree``."""
    return [getattr(node, "lineno", 0) for node in ast.walk(tree) if _imports_sdk(node)]


def test_only_the_anthropic_plugin_imports_the_sdk() -> None:
    allowed = REPO / "plugins" / "flowpilot_anthropic"
    checked = 0
    offenders = []
    for top in ("flowpilot_core", "server", "plugins"):
        for path in sorted((REPO / top).rglob("*.py")):
            checked += 1
            if allowed in path.parents:
                continue
            for line in _imports_anthropic(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                offenders.append(f"{path.relative_to(REPO)}:{line}")
    assert checked > 10
    assert offenders == [], "only plugins/flowpilot_anthropic may import anthropic"
    plugin_files = "\n".join(p.read_text() for p in allowed.rglob("*.py"))
    assert _imports_anthropic(ast.parse(plugin_files))  # the detector does detect


def test_the_detector_catches_every_import_form() -> None:
    for source in (
        "import anthropic",
        "import anthropic.types as t",
        "from anthropic import AsyncAnthropic",
        "from anthropic.types import Usage",
        "__import__('anthropic')",
        "importlib.import_module('anthropic.lib')",
        "def f():\n    import anthropic",
    ):
        assert _imports_anthropic(ast.parse(source)), source
    for source in ("import anthropical", "from . import anthropic_helpers", "from .anthropic import x"):
        assert not _imports_anthropic(ast.parse(source)), source


def test_offline_stream_delay_is_configurable_and_validated() -> None:
    from types import SimpleNamespace

    import pytest
    from flowpilot_offline import create_provider

    from flowpilot_core.config import ConfigError

    assert create_provider(SimpleNamespace(ai={"offline": {"stream_delay_ms": 20}})).stream_delay == 0.02
    assert create_provider(SimpleNamespace(ai={})).stream_delay == 0.0
    with pytest.raises(ConfigError, match=r"ai\.offline\.stream_delay_ms"):
        create_provider(SimpleNamespace(ai={"offline": {"stream_delay_ms": "fast"}}))
