"""docs/plugins.md tells the truth: every hook has a heading with its exact signature and a test,
every event is listed, the examples run as plugins, and no referenced module is missing."""

from __future__ import annotations

import dataclasses
import importlib
import re
import types
import uuid
from pathlib import Path

import pytest

from flowpilot_core import hookspecs
from flowpilot_core.config import Settings
from flowpilot_core.events import EVENT_TYPES, SessionCreated
from flowpilot_core.library import build_model_provider
from flowpilot_core.markers.grammar import parse_assistant_output
from flowpilot_core.plugins import collect, new_manager

from .support import manager_with

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOK_TESTS = (REPO / "tests" / "plugins" / "test_hooks.py").read_text(encoding="utf-8")
UNCONSUMED = {"register_redactors"}


def _hookspecs() -> dict[str, list[str]]:
    """Each hook's name and argument names, as pluggy sees them."""
    manager = new_manager()
    return {
        name: list(getattr(manager.hook, name).spec.argnames)
        for name in dir(manager.hook)
        if not name.startswith("_") and getattr(manager.hook, name).spec is not None
    }


def _section(name: str) -> str:
    """The docs text under the hook's heading, up to the next heading of that level or above."""
    match = re.search(rf"^### {re.escape(name)}\(.*?(?=^##)", DOCS, flags=re.M | re.S)
    assert match, f"docs/plugins.md has no section for {name}"
    return match.group(0)


def test_every_hook_has_a_heading_with_its_exact_signature_and_a_test() -> None:
    specs = _hookspecs()
    assert len(specs) == 7
    for name, args in specs.items():
        assert f"\n### {name}({', '.join(args)})\n" in DOCS, name
        assert f"def test_hook_{name}(" in HOOK_TESTS or f"async def test_hook_{name}(" in HOOK_TESTS, name
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_hooks_without_a_consumer_say_so_and_the_others_do_not() -> None:
    for name in _hookspecs():
        says_so = "not consumed yet: a later release uses it"
        docstring = getattr(hookspecs, name).__doc__ or ""
        section = _section(name)
        if name in UNCONSUMED:
            assert says_so in docstring.lower() and says_so in section.lower(), name
        else:
            assert "not consumed yet" not in docstring.lower() + section.lower(), name


def test_every_event_is_in_the_table_with_its_name() -> None:
    for event_type in EVENT_TYPES:
        row = f"| `{event_type.__name__}` (`{event_type.__struct_config__.tag}`) |"
        assert row in DOCS, event_type.__name__
        for field in event_type.__struct_fields__:
            if field not in {"account_id", "occurred_at"}:
                assert f"`{field}`" in DOCS.split(row, 1)[1].split("\n", 1)[0], (event_type.__name__, field)


def _examples() -> dict[str, types.ModuleType]:
    """Each hook section's Python example, executed as a plugin module."""
    modules = {}
    for name in _hookspecs():
        (code,) = re.findall(r"```python\n(.*?)```", _section(name), flags=re.S)
        module = types.ModuleType(f"docs_example_{name}")
        exec(compile(code, f"docs/plugins.md#{name}", "exec"), module.__dict__)
        modules[name] = module
    return modules


async def test_the_examples_are_working_plugins(settings: Settings) -> None:
    examples = _examples()
    manager = manager_with(*((f"example-{name}", module) for name, module in examples.items()))
    registry = collect(manager)
    for name in examples:
        if name.startswith("register_"):
            assert registry.contributions(f"example-{name}"), f"the {name} example contributes nothing"

    provider = build_model_provider(dataclasses.replace(settings, model_provider="canned"), registry)
    assert provider.name == "canned"
    parsed = parse_assistant_output('[KB id="KB0042"]Reset BitLocker[/KB]', registry.marker_parsers)
    assert parsed.display == "See KB0042: Reset BitLocker"
    (marker,) = parsed.markers
    await registry.marker_effects["kb"](None, marker)
    assert examples["register_marker_effects"].linked_articles == ["KB0042"]
    assert registry.redactors["card_numbers"]("card 4111 1111 1111 1111 ok") == "card [card number] ok"

    examples["track_event"].track_event(SessionCreated(account_id=uuid.uuid4(), session_id=uuid.uuid4(), user_id=None))
    assert b'"event":"session_created"' in examples["track_event"].outbox.get_nowait()


@pytest.mark.parametrize("path", ["flowpilot_core/hookspecs.py", "docs/plugins.md", "README.md"])
def test_referenced_flowpilot_modules_exist(path: str) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    for dotted in sorted(set(re.findall(r"\bflowpilot_(?:core|server)(?:\.[a-z_]+)+", text))):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                target: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                assert hasattr(target, attr), f"{path} names {dotted}, which does not exist"
                target = getattr(target, attr)
            break
        else:
            pytest.fail(f"{path} names {dotted}, which does not exist")
