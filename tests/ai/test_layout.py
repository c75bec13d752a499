"""Layout: prefix order, breakpoint placement, determinism across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot_core.ai.layout import MCP_BETA, LaidOutCall, lay_out
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.tokens import canonical_json, estimate_request_tokens
from flowpilot_core.ai.types import CallSpec, ChatMessage

from .support import chat_spec, history, tool

REPO = Path(__file__).resolve().parents[2]
POLICY = AIPolicy()
MODEL = "claude-sonnet-4-6"


def markers(obj: Any, path: str = "") -> list[str]:
    """JSON paths of every cache_control in ``obj``."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "cache_control":
                found.append(path)
            found.extend(markers(value, f"{path}.{key}"))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found.extend(markers(value, f"{path}[{i}]"))
    return found


def lay(spec: CallSpec, policy: AIPolicy = POLICY, **kw: Any) -> LaidOutCall:
    return lay_out(spec, model=MODEL, policy=policy, **kw)


def test_prefix_order_and_the_four_breakpoints() -> None:
    spec = chat_spec(tools=(tool("zeta"), tool("alpha"), tool("mid")))
    call = lay(spec)
    kw = call.kwargs
    assert list(kw) == ["model", "max_tokens", "tools", "system", "messages"]
    assert [t["name"] for t in kw["tools"]] == ["alpha", "mid", "zeta"]
    assert markers(kw) == [
        ".tools[2]",
        ".system[1]",
        ".system[2]",
        ".messages[3].content[0]",
    ]
    assert [b.label for b in call.breakpoints] == ["tools", "system", "context", "history"]
    # The static sections, then the stable context as canonical JSON (facts are not in it).
    assert [b["text"] for b in kw["system"][:2]] == list(spec.system)
    stable = {k: v for k, v in spec.context.items() if k != "facts"}
    assert kw["system"][2]["text"] == json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # History verbatim, then one user turn: growing facts, then the volatile request, unmarked.
    assert [m["content"][0]["text"] for m in kw["messages"][:4]] == [m.content for m in spec.history]
    final = kw["messages"][-1]
    assert final["role"] == "user"
    assert final["content"] == [
        {"type": "text", "text": canonical_json({"facts": spec.context["facts"]})},
        {"type": "text", "text": spec.request},
    ]
    assert call.estimated_input_tokens == estimate_request_tokens(kw)
    assert call.breakpoints[-1].prefix_tokens < call.estimated_input_tokens


def test_ttls_follow_the_policy() -> None:
    policy = AIPolicy.from_config({"static_cache_ttl": "1h"})
    kw = lay(chat_spec(), policy).kwargs
    assert kw["tools"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert kw["system"][1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert kw["system"][2]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert kw["messages"][3]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_stale_markers_are_stripped_and_the_spec_is_not_mutated() -> None:
    marked = {**tool("alpha"), "cache_control": {"type": "ephemeral"}}
    spec = chat_spec(tools=(marked, tool("beta")))
    kw = lay(spec).kwargs
    assert "cache_control" not in kw["tools"][0]
    assert "cache_control" in kw["tools"][1]
    assert spec.tools[0]["cache_control"] == {"type": "ephemeral"}  # caller's dict untouched
    assert "cache_control" not in spec.tools[1]


def test_caching_off_sends_no_markers() -> None:
    kw = lay(chat_spec(), AIPolicy.from_config({"caching": False})).kwargs
    assert markers(kw) == []


def test_without_history_or_context_there_are_fewer_breakpoints() -> None:
    call = lay(chat_spec(history=(), context={}))
    assert [b.label for b in call.breakpoints] == ["tools", "system"]
    only_facts = lay(chat_spec(history=(), context={"facts": ["x"]}))
    assert [b.label for b in only_facts.breakpoints] == ["tools", "system"]
    assert "system" in only_facts.kwargs and len(only_facts.kwargs["system"]) == 2


def test_breakpoint_diagnostics_compare_with_the_model_minimum() -> None:
    tiny = CallSpec(service="chat", system=("Be brief.",), history=history(1), request="hi")
    call = lay(tiny)
    assert all(not b.cacheable for b in call.breakpoints)
    assert all(b.prefix_tokens < POLICY.min_cacheable_for(MODEL) for b in call.breakpoints)
    assert all(b.cacheable for b in lay(chat_spec()).breakpoints[1:])


def test_empty_turns_are_dropped_and_an_empty_call_is_an_error() -> None:
    spec = chat_spec(history=(ChatMessage(role="user", content="a"), ChatMessage(role="assistant", content="")))
    assert len(lay(spec).kwargs["messages"]) == 2
    with pytest.raises(ValueError, match="no history and no request"):
        lay(CallSpec(service="chat", system=("x",)))


def test_mcp_toolsets_only_with_servers() -> None:
    toolset = {"type": "mcp_toolset", "mcp_server_name": "rmm"}
    spec = chat_spec(tools=(*chat_spec().tools, toolset))
    without = lay(spec)
    assert "mcp_toolset" not in json.dumps(without.kwargs)
    assert without.mcp_servers == () and without.betas == ()

    servers = [
        {"name": "rmm", "url": "https://rmm.example/mcp", "authorization_token": "t"},
        {"name": "docs", "url": "https://docs.example/mcp"},
    ]
    with_servers = lay(spec, mcp_servers=servers)
    assert [s["name"] for s in with_servers.mcp_servers] == ["docs", "rmm"]
    assert all(s["type"] == "url" for s in with_servers.mcp_servers)
    assert with_servers.betas == (MCP_BETA,)
    sets = [t for t in with_servers.kwargs["tools"] if t.get("type") == "mcp_toolset"]
    assert [t["mcp_server_name"] for t in sets] == ["docs", "rmm"]
    assert "cache_control" in with_servers.kwargs["tools"][-1]  # the toolset entry carries the tools marker
    with pytest.raises(ValueError, match="name"):
        lay(spec, mcp_servers=[{"url": "https://x.example"}])


# -- property: any conversation and tool set ---------------------------------------------

names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
tools_st = st.lists(
    st.builds(
        lambda n, marked: {**tool(n), **({"cache_control": {"type": "ephemeral"}} if marked else {})},
        names,
        st.booleans(),
    ),
    max_size=8,
)
messages_st = st.lists(
    st.builds(ChatMessage, role=st.sampled_from(["user", "assistant"]), content=st.text(max_size=30)), max_size=60
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tools=tools_st,
    system=st.lists(st.text(max_size=20), max_size=4),
    context=st.dictionaries(st.sampled_from(["ticket", "facts", "account", "notes"]), st.integers(), max_size=4),
    past=messages_st,
    request=st.text(min_size=1, max_size=30),
    caching=st.booleans(),
    mcp=st.booleans(),
)
def test_any_call_has_at_most_four_breakpoints_none_on_the_request(
    tools: list[dict[str, Any]],
    system: list[str],
    context: dict[str, int],
    past: list[ChatMessage],
    request: str,
    caching: bool,
    mcp: bool,
) -> None:
    spec = CallSpec(
        service="chat", tools=tuple(tools), system=tuple(system), context=context, history=tuple(past), request=request
    )
    servers = [{"name": "rmm", "url": "https://rmm.example/mcp"}] if mcp else []
    call = lay(spec, AIPolicy.from_config({"caching": caching}), mcp_servers=servers)
    kw = call.kwargs
    found = markers(kw)
    assert len(found) <= 4
    assert len(found) == len(call.breakpoints)
    if not caching:
        assert found == []
    final = kw["messages"][-1]
    assert final["content"][-1]["text"] == request
    assert all("cache_control" not in block for block in final["content"])  # the volatile turn is never marked
    kept = [m for m in past if m.content]
    if kept and caching:
        assert kw["messages"][len(kept) - 1]["content"][-1]["cache_control"]["type"] == "ephemeral"
    custom = [t["name"] for t in kw.get("tools", []) if t.get("type") != "mcp_toolset"]
    assert custom == sorted(custom)


# -- determinism across processes ------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from flowpilot_core.ai.layout import lay_out
    from flowpilot_core.ai.policy import AIPolicy
    from flowpilot_core.ai.types import CallSpec, ChatMessage

    # Built in hash order on purpose: set iteration differs between PYTHONHASHSEEDs.
    names = {"restart_service", "get_device", "search_kb", "read_event_log", "ping_host"}
    tools = [
        {
            "name": n,
            "description": "Tool " + n,
            "input_schema": {
                "type": "object",
                "properties": {"level": {"type": "string", "enum": {"error", "warning", "info", "debug"}}},
                "required": {"level"},
            },
        }
        for n in names
    ]
    context = {k: {"value": k} for k in {"ticket", "account", "site", "contact"}}
    context["facts"] = ["a", "b"]
    spec = CallSpec(
        service="chat",
        system=("Static system.",),
        tools=tuple(tools),
        context=context,
        history=(ChatMessage(role="user", content="hi"), ChatMessage(role="assistant", content="hello")),
        request="next?",
    )
    servers = [{"url": "https://" + n + ".example/mcp", "name": n} for n in {"rmm", "docs", "psa"}]
    call = lay_out(spec, model="claude-sonnet-4-6", policy=AIPolicy(), mcp_servers=servers)
    sys.stdout.write(json.dumps(call.kwargs) + "\\n" + json.dumps(call.mcp_servers))
    """
)


@pytest.mark.slow
def test_layout_bytes_are_identical_across_hash_seeds() -> None:
    outputs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True, check=True, timeout=60
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert b'"enum": ["debug", "error", "info", "warning"]' in outputs[0]


def test_set_iteration_really_differs_between_seeds() -> None:
    # Guards the test above: if set order did not vary, it would prove nothing.
    probe = 'print(list({"restart_service", "get_device", "search_kb", "read_event_log", "ping_host"}))'
    seen = {
        subprocess.run(
            [sys.executable, "-c", probe], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, check=True
        ).stdout
        for seed in ("1", "2", "3", "4", "5")
    }
    assert len(seen) > 1
