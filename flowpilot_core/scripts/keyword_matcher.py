"""The built-in template matcher: BM25 over a template's name, tags, description and body.

A plugin like any other (entry point ``script_matchers``). Fields are weighted by
repeating their words (name 3 times, tags and description twice, body once), words are split at
case and hyphen boundaries so ``Restart-PrintSpooler`` reads as "restart print spooler",
and a trailing plural ``s`` is dropped. The raw BM25 score ``s`` (unbounded) becomes
``s / (s + 3)`` in [0, 1]; the reason names the shared words that weighed most.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from flowpilot_core import hookimpl
from flowpilot_core.hookspecs import RegisterTemplateMatcher
from flowpilot_core.scripts.matching import FixQuery, TemplateDoc, TemplateScore

K1 = 1.2
B = 0.75
SQUASH = 3.0
FIELD_WEIGHTS = (("name", 3), ("tags", 2), ("description", 2), ("body", 1))
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "then",
        "this",
        "to",
        "was",
        "with",
        "when",
        "which",
        "will",
        "not",
        "no",
        "do",
        "does",
        "on",
        "off",
        "via",
        "use",
        "using",
        "run",
        "all",
        "any",
        "get",
        "set",
        "new",
        "can",
    ]
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+")


def tokens(text: str) -> list[str]:
    out = []
    for word in _WORDS.findall(_CAMEL.sub(" ", text or "")):
        low = word.lower()
        if len(low) > 3 and low.endswith("s") and not low.endswith("ss"):
            low = low[:-1]
        if len(low) > 1 and low not in STOP_WORDS:
            out.append(low)
    return out


def _document(template: TemplateDoc) -> tuple[Counter[str], dict[str, set[str]]]:
    counts: Counter[str] = Counter()
    fields: dict[str, set[str]] = {}
    texts = {
        "name": template.name,
        "tags": " ".join(template.tags),
        "description": template.description,
        "body": template.body,
    }
    for field, weight in FIELD_WEIGHTS:
        for word in tokens(texts[field]):
            counts[word] += weight
            fields.setdefault(word, set()).add(field)
    return counts, fields


class KeywordMatcher:
    """Scores templates by BM25 of the fix's words (title, root cause, steps, the problem)."""

    def __call__(self, fix: FixQuery, templates: Sequence[TemplateDoc]) -> Iterable[TemplateScore]:
        query = set(tokens(" ".join((fix.title, fix.title, fix.root_cause, fix.body, fix.problem))))
        if not templates or not query:
            return []
        docs = [_document(t) for t in templates]
        lengths = [sum(counts.values()) for counts, _ in docs]
        average = sum(lengths) / len(lengths) or 1.0
        n = len(docs)
        frequency = Counter(word for counts, _ in docs for word in counts)
        scores = []
        for template, (counts, fields), length in zip(templates, docs, lengths, strict=True):
            parts: list[tuple[float, str]] = []
            for word in query:
                tf = counts.get(word, 0)
                if not tf:
                    continue
                idf = math.log((n - frequency[word] + 0.5) / (frequency[word] + 0.5) + 1)
                parts.append((idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average)), word))
            total = sum(p for p, _ in parts)
            if total <= 0:
                continue
            top = sorted(parts, reverse=True)[:4]
            shared = ", ".join(f"{w} ({'/'.join(sorted(fields[w]))})" for _, w in top)
            scores.append(
                TemplateScore(
                    template_id=template.id, score=total / (total + SQUASH), reasons=(f"shared words: {shared}",)
                )
            )
        return scores


@hookimpl
def register_template_matchers(register: RegisterTemplateMatcher) -> None:
    register("keywords", KeywordMatcher())
