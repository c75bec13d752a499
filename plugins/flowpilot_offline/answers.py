"""Reading a technician's answer: a bare yes or no, hedges, and whether a phrase is mentioned.

Conservative on purpose. Only a *bare* answer counts as yes or no: a yes/no word, optionally
followed by an echo of the question's own auxiliary ("yes it is", "no, they can't"). Anything
else ("It is set to 8.8.8.8", "they did last month", "yes, but only on Wi-Fi") is an answer
the offline model records on the item without turning it into a fact: a sentence that starts
like a yes often says something else.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["bare_yes_no", "is_uncertain", "leading_yes_no", "mentions"]

YesNo = Literal["yes", "no"]

_YES = {"yes", "yep", "yeah", "yup", "y", "correct", "confirmed", "affirmative"}
_NO = {"no", "nope", "nah", "n", "negative"}
_ECHO_PRONOUNS = r"(?:it|they|he|she|we|i|that|there|this)"
_AUXILIARIES = {
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "should",
}
_NEGATIVE_FORMS = {
    "is": ("isn't", "is not"), "are": ("aren't", "are not"), "was": ("wasn't", "was not"),
    "were": ("weren't", "were not"), "do": ("don't", "do not"), "does": ("doesn't", "does not"),
    "did": ("didn't", "did not"), "has": ("hasn't", "has not"), "have": ("haven't", "have not"),
    "had": ("hadn't", "had not"), "can": ("can't", "cannot", "can not"), "could": ("couldn't", "could not"),
    "will": ("won't", "will not"), "would": ("wouldn't", "would not"), "should": ("shouldn't", "should not"),
}  # fmt: skip

_PERSON_FORMS = (("is", "are"), ("was", "were"), ("do", "does"), ("has", "have"))

# Words that make an answer uncertain, deferred or partial. General English hedges, not
# phrases from any one case; used to refuse, never to produce, a reading.
_HEDGES = (
    r"not sure", r"unsure", r"don'?t know", r"do not know", r"no idea", r"no clue", r"dunno", r"idk",
    r"maybe", r"perhaps", r"probably", r"possibly", r"might", r"may be", r"i think", r"i guess",
    r"i believe", r"i suppose", r"i assume", r"i reckon", r"seems?", r"looks like", r"not certain",
    r"can'?t tell", r"hard to (?:say|tell)", r"let me (?:check|see|ask)", r"will check", r"i'?ll (?:check|ask)",
    r"need to (?:check|ask|confirm)", r"get back to you", r"hold on", r"tbc", r"partially", r"partly",
    r"sometimes", r"intermittent(?:ly)?", r"not always", r"kind of", r"sort of", r"not really", r"depends",
    r"mostly", r"usually", r"except", r"apart from", r"but only",
    r"only (?:when|if|on|for|in|at|with|some|sometimes|after|before)",
    r"but not", r"a few", r"occasionally",
    r"wait", r"actually", r"as far as i know", r"afaik", r"that i know of", r"should be", r"supposedly",
    r"apparently", r"in theory",
)  # fmt: skip
_HEDGE_RE = re.compile(r"(?<![\w'])(?:" + "|".join(_HEDGES) + r")(?![\w'])", re.I)
_NEGATION_BEFORE_RE = re.compile(r"(?:\bnot|n't|\bno|\bnever|\bnothing|\bcannot)\s+(?:\w+\s+){0,2}$", re.I)


def is_uncertain(answer: str) -> bool:
    """True when ``answer`` is empty, a question back, or hedged, deferred or partial."""
    text = answer.strip()
    return not text or text.endswith("?") or _HEDGE_RE.search(text) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))


def bare_yes_no(answer: str, auxiliary: str | None = None) -> YesNo | None:
    """``yes`` / ``no`` for a bare answer, else ``None``.

    Bare means: one yes/no word, optionally followed by a pronoun and the question's
    ``auxiliary`` with the same polarity ("yes it is", "no, it isn't", "nope they can't").
    Without ``auxiliary`` only the single word counts.
    """
    if is_uncertain(answer):
        return None
    words = _words(answer)
    if not words or len(words) > 4:
        return None
    lead: YesNo | None = "yes" if words[0] in _YES else "no" if words[0] in _NO else None
    if lead is None:
        return None
    tail = " ".join(words[1:])
    if not tail:
        return lead
    if auxiliary is None or auxiliary not in _AUXILIARIES:
        return None
    m = re.fullmatch(_ECHO_PRONOUNS + r" (.+)", tail)
    if m is None:
        return None
    echo = m.group(1)
    # "Does the user ...?" / "yes, they do": the pronoun may change the person, never the tense.
    family = next((f for f in _PERSON_FORMS if auxiliary in f), (auxiliary,))
    if lead == "yes" and echo in family:
        return "yes"
    if lead == "no" and any(echo in _NEGATIVE_FORMS[a] for a in family):
        return "no"
    return None


def mentions(text: str, term: str) -> bool:
    """True when ``term`` occurs in ``text`` as a whole phrase and is not negated just before."""
    pattern = re.compile(r"(?<![\w])" + re.escape(term) + r"(?![\w])", re.I)
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if not _NEGATION_BEFORE_RE.search(before):
            return True
    return False


_STANDALONE_YES_RE = re.compile(r"(?<![\w'])(?:yes|yep|yeah|yup)(?![\w'])", re.I)
_STANDALONE_NO_RE = re.compile(r"(?<![\w'])(?:no|nope|nah)(?![\w'])", re.I)


def leading_yes_no(answer: str, auxiliary: str | None = None) -> YesNo | None:
    """The yes or no an answer *leads* with ("No, nobody can print to it"), for moving a playbook on.

    Looser than :func:`bare_yes_no`, which alone may produce a fact: the rest of the
    answer is kept on the item. Hedged answers and answers holding both a yes and a no
    word read as neither.
    """
    bare = bare_yes_no(answer, auxiliary)
    if bare is not None or is_uncertain(answer):
        return bare
    words = _words(answer)
    if not words:
        return None
    lead: YesNo | None = "yes" if words[0] in _YES else "no" if words[0] in _NO else None
    rest = answer.strip()[len(words[0]) :]
    if lead == "yes" and _STANDALONE_NO_RE.search(rest):
        return None
    if lead == "no" and _STANDALONE_YES_RE.search(rest):
        return None
    return lead
