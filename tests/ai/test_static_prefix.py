"""The chat call's static prefix: cacheable on its own, the same for everyone, and teaching valid markers.

The prefix (tools, role, marker grammar, worked examples) is what a new session of any account can read
from the cache another session wrote; below the chat model's minimum cacheable prefix the API would
silently cache nothing of it.
"""

from __future__ import annotations

import re

from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import prepare_call
from flowpilot_core.ai.tokens import estimate_text_tokens
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.markers import builtin
from flowpilot_core.markers.grammar import parse_assistant_output
from flowpilot_core.sessions.chat_prompt import SYSTEM_SECTIONS, WORKED_EXAMPLES_PROMPT

# The estimate counts 3.5 UTF-8 bytes a token; Claude's tokenizer averages nearer 4 on English prose, so
# the real count can be about 15% lower than the estimate. The prefix must clear the minimum even then.
TOKENIZER_MARGIN = 1.2


def _spec(account: str, ticket: str) -> CallSpec:
    return CallSpec(
        service="chat",
        system=SYSTEM_SECTIONS,
        context={"ticket": {"summary": ticket}, "account": {"name": account}, "facts": []},
        request="Where do I start?",
        account_id=account,
    )


def test_the_static_prefix_alone_reaches_the_chat_models_minimum_with_margin() -> None:
    policy = AIPolicy()
    minimum = policy.min_cacheable_for(policy.model_for("chat"))
    assert sum(estimate_text_tokens(text) for text in SYSTEM_SECTIONS) >= minimum * TOKENIZER_MARGIN
    system = {b.label: b for b in prepare_call(_spec("Harbor IT", "Printer offline"), policy=policy).breakpoints}[
        "system"
    ]
    assert system.cacheable and system.ttl == "1h"


def test_the_static_prefix_is_byte_identical_across_accounts_and_tickets() -> None:
    policy = AIPolicy()
    a = prepare_call(_spec("Harbor IT", "Printer offline"), policy=policy).kwargs["system"]
    b = prepare_call(_spec("Bayside Managed IT", "Outlook password prompts"), policy=policy).kwargs["system"]
    static = len(SYSTEM_SECTIONS)
    assert a[:static] == b[:static] and a[static] != b[static]
    assert a[static - 1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_every_marker_in_the_worked_examples_is_valid_grammar() -> None:
    """The examples teach by showing: a malformed one would teach the model to write markers FlowPilot drops."""
    opened = re.findall(r"\[(QUESTION|CHECK|ACTION|PROMOTE|SUGGEST_FIX)[\] ]", WORKED_EXAMPLES_PROMPT)
    parsed = parse_assistant_output(WORKED_EXAMPLES_PROMPT, builtin.default_parsers())
    assert [type(m).__name__ for m in parsed.markers] == [
        "QuestionMarker", "QuestionMarker", "CheckMarker", "CheckMarker", "PromoteMarker", "PromoteMarker",
        "SuggestFixMarker", "QuestionMarker", "CheckMarker",
    ]  # fmt: skip
    assert len(parsed.markers) == len(opened), "every marker shown is parsed, none left as text"
