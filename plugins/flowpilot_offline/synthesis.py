"""Deterministic, conservative fact synthesis for the offline model.

Turns one answered task-lane item into at most ONE short declarative fact:

* a question and its answer (``{"kind": "question", "question": ..., "answer": ...}``);
* a check and its output (``{"kind": "check", "title": ..., "command": ..., "output": ...}``).

The rule is precision first: the fact says no more than the question and the answer
(or the output) support, and anything uncertain, partial, contradictory, empty or not
understood yields no fact (``None``) with a reason. A missed fact costs the technician
one click on "promote"; a wrong fact ends up in a resolution note.

The answer-reading helpers (:func:`is_uncertain`, :func:`yes_no`, :func:`mentions`)
are shared with the playbook engine so both read answers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

__all__ = [
    "SynthesisResult",
    "is_uncertain",
    "mentions",
    "synthesize_fact",
    "yes_no",
]

MAX_FACT_CHARS = 240
MAX_ANSWER_CHARS = 160


class SynthesisResult(msgspec.Struct, frozen=True, kw_only=True):
    """A synthesised fact (or ``None``) and why."""

    fact: str | None
    reason: str


# ---------------------------------------------------------------------------------------
# Reading answers
# ---------------------------------------------------------------------------------------

# Phrases that make an answer uncertain, deferred or partial: no fact from these.
_HEDGES = (
    r"not sure",
    r"unsure",
    r"don'?t know",
    r"do not know",
    r"didn'?t know",
    r"no idea",
    r"no clue",
    r"dunno",
    r"idk",
    r"maybe",
    r"perhaps",
    r"probably",
    r"possibly",
    r"might",
    r"may be",
    r"i think",
    r"i guess",
    r"i believe",
    r"i suppose",
    r"i assume",
    r"seems?",
    r"looks like",
    r"not certain",
    r"can'?t tell",
    r"cannot tell",
    r"hard to (?:say|tell)",
    r"let me (?:check|see|ask|find out)",
    r"will check",
    r"i'?ll check",
    r"i'?ll ask",
    r"need to (?:check|ask|confirm)",
    r"checking",
    r"get back to you",
    r"hold on",
    r"one sec",
    r"tbc",
    r"to be confirmed",
    r"partially",
    r"partly",
    r"sometimes",
    r"some of",
    r"intermittent(?:ly)?",
    r"not always",
    r"kind of",
    r"sort of",
    r"somewhat",
    r"not really",
    r"unknown",
    r"n/a",
    r"either way",
    r"yes and no",
    r"no and yes",
    r"depends",
    r"hit and miss",
    r"on and off",
    r"off and on",
    r"mostly",
    r"usually",
    r"except",
    r"apart from",
    r"but only",
    r"only (?:when|on|for|if|some|in|at|with|after|before)",
    r"but not",
    r"not for all",
    r"not all",
    r"a few",
    r"occasionally",
    r"now and then",
    r"wait",
    r"that i know of",
    r"as far as i know",
    r"afaik",
    r"not that i'?m aware",
    r"i don'?t think",
    r"i doubt",
    r"not to my knowledge",
    r"supposedly",
    r"apparently",
    r"should be",
    r"in theory",
)
_HEDGE_RE = re.compile(r"(?<![\w'])(?:" + "|".join(_HEDGES) + r")(?![\w'])", re.I)
# Intermittency words are a real answer to "Is the problem intermittent?"; they only
# count as hedges when the question is not about intermittency.
_INTERMITTENT_RE = re.compile(r"intermittent|every time|always|sometimes|occasionally", re.I)

_YES_WORDS = (
    "yes",
    "yep",
    "yeah",
    "yea",
    "yup",
    "y",
    "correct",
    "affirmative",
    "confirmed",
    "indeed",
    "sure",
    "definitely",
    "absolutely",
    "true",
    "right",
    "aye",
)
_NO_WORDS = ("no", "nope", "nah", "n", "negative", "false", "never", "none", "nothing", "not")
_NO_PHRASES_RE = re.compile(
    r"^(?:it|they|he|she|that|this|there)?\s*(?:isn'?t|aren'?t|wasn'?t|weren'?t|doesn'?t|don'?t|didn'?t|"
    r"hasn'?t|haven'?t|can'?t|cannot|couldn'?t|won'?t|is not|are not|was not|does not|do not|did not|"
    r"has not|have not|can not|will not)\b",
    re.I,
)
_YES_PHRASES_RE = re.compile(
    r"^(?:it|they|he|she|that|this|there)\s+(?:is|are|was|were|does|do|did|has|have|can|will)\b(?!\s*n[o']t)", re.I
)
_STANDALONE_NO_RE = re.compile(r"(?<![\w'])(?:no|nope|nah)(?=\s*(?:[,.!;:\-\u2013\u2014]|$|wait|actually))", re.I)
_STANDALONE_YES_RE = re.compile(r"(?<![\w'])(?:yes|yep|yeah|yup)(?![\w'])", re.I)
_NEGATION_RE = re.compile(r"(?:\bnot|n't|\bno|\bnever|\bnothing|\bcannot)\s+(?:\w+\s+){0,2}$", re.I)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def is_uncertain(answer: str, *, allow_intermittency: bool = False) -> bool:
    """True when ``answer`` is hedged, deferred, partial or itself a question.

    ``allow_intermittency`` lets words like "sometimes" through when the question asks
    about frequency, where they are the answer rather than a hedge.
    """
    text = answer.strip()
    if not text:
        return True
    if text.endswith("?"):
        return True
    for match in _HEDGE_RE.finditer(text):
        if allow_intermittency and _INTERMITTENT_RE.fullmatch(match.group(0)):
            continue
        return True
    return False


def yes_no(answer: str) -> Literal["yes", "no"] | None:
    """Read a yes/no answer; ``None`` when it is neither, uncertain or contradictory."""
    if is_uncertain(answer):
        return None
    text = answer.strip()
    words = _words(text)
    if not words:
        return None
    first = words[0]
    lead: Literal["yes", "no"] | None = None
    if first in _YES_WORDS:
        lead = "yes"
    elif first in _NO_WORDS or _NO_PHRASES_RE.match(text):
        lead = "no"
        if re.match(r"(?:no\s*one|nobody|none)\b", text, re.I) and len(words) > 3:
            # "no one else has reported it" says something about reports, not a plain no.
            return None
    elif _YES_PHRASES_RE.match(text):
        lead = "yes"
    if lead is None:
        return None
    # "yes ... no" or "no ... yes": contradictory, so no reading at all.
    has_yes = bool(_STANDALONE_YES_RE.search(text))
    has_no = bool(_STANDALONE_NO_RE.search(text))
    if (lead == "yes" and has_no) or (lead == "no" and has_yes):
        return None
    return lead


def mentions(text: str, term: str) -> bool:
    """True when ``term`` occurs in ``text`` as a whole phrase and is not negated just before."""
    pattern = re.compile(r"(?<![\w])" + re.escape(term) + r"(?![\w])", re.I)
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if not _NEGATION_RE.search(before):
            return True
    return False


def _negated_mention(text: str, term: str) -> bool:
    pattern = re.compile(r"(?<![\w])" + re.escape(term) + r"(?![\w])", re.I)
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if _NEGATION_RE.search(before):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------

_BE = {"is": "is", "are": "are", "was": "was", "were": "were"}
_DO = {"do", "does", "did"}
_HAVE = {"has", "have", "had"}
_MODAL = {"can", "could", "will", "would", "should"}
_NEG_MODAL = {"can": "cannot", "could": "could not", "will": "will not", "would": "would not", "should": "should not"}
_DETERMINERS = {
    "the",
    "a",
    "an",
    "other",
    "another",
    "some",
    "any",
    "all",
    "both",
    "each",
    "every",
    "these",
    "those",
    "this",
    "that",
    "his",
    "her",
    "their",
    "our",
    "my",
    "its",
    "your",
    "no",
}
_AMBIGUOUS_PRONOUNS = {"it", "this", "that", "they", "he", "she", "we", "i", "them", "these", "those"}
_PREPOSITIONS = {
    "on",
    "in",
    "at",
    "for",
    "from",
    "with",
    "to",
    "behind",
    "under",
    "over",
    "via",
    "within",
    "inside",
    "outside",
    "off",
    "out",
    "up",
    "down",
    "as",
    "into",
    "through",
    "near",
    "by",
}
# Adjectives and participles that start a predicate after "is/are".
_PRED_WORDS = {
    "able",
    "unable",
    "offline",
    "online",
    "available",
    "unavailable",
    "full",
    "empty",
    "visible",
    "invisible",
    "correct",
    "incorrect",
    "right",
    "wrong",
    "same",
    "different",
    "enabled",
    "disabled",
    "present",
    "missing",
    "valid",
    "invalid",
    "current",
    "reachable",
    "unreachable",
    "ok",
    "okay",
    "fine",
    "slow",
    "fast",
    "low",
    "high",
    "stuck",
    "open",
    "closed",
    "frozen",
    "blank",
    "active",
    "inactive",
    "busy",
    "idle",
    "ready",
    "new",
    "old",
    "still",
    "also",
    "now",
    "currently",
    "already",
    "always",
    "ever",
    "set",
    "shown",
    "known",
    "intermittent",
    "consistent",
    "possible",
    "responsive",
    "unresponsive",
    "hot",
    "loud",
    "dead",
    "red",
    "green",
    "amber",
    "encrypted",
    "licensed",
    "unlicensed",
    "plugged",
    "powered",
    "turned",
    "switched",
    "signed",
    "logged",
    "the",
    "a",
    "an",
    "too",
    "very",
    "more",
    "less",
    "nearly",
    "almost",
    "completely",
    "fully",
}
_ADJ_TAIL = {
    "correct",
    "incorrect",
    "right",
    "wrong",
    "full",
    "empty",
    "ok",
    "okay",
    "fine",
    "available",
    "visible",
    "enabled",
    "disabled",
    "valid",
    "invalid",
    "slow",
    "current",
    "reachable",
    "missing",
    "present",
    "same",
    "different",
    "encrypted",
    "intermittent",
    "low",
    "high",
    "stuck",
    "frozen",
}
# Base verbs common in troubleshooting questions (subject/verb split after do/can).
_VERBS = {
    "print",
    "connect",
    "access",
    "open",
    "sign",
    "log",
    "see",
    "reach",
    "ping",
    "send",
    "receive",
    "map",
    "browse",
    "hear",
    "join",
    "use",
    "load",
    "install",
    "run",
    "resolve",
    "authenticate",
    "start",
    "boot",
    "get",
    "find",
    "save",
    "happen",
    "occur",
    "appear",
    "show",
    "display",
    "work",
    "respond",
    "change",
    "restart",
    "reboot",
    "update",
    "sync",
    "have",
    "need",
    "know",
    "remember",
    "lose",
    "drop",
    "disconnect",
    "fail",
    "crash",
    "freeze",
    "hang",
    "let",
    "allow",
    "accept",
    "reject",
    "block",
    "prompt",
    "ask",
    "say",
    "contain",
    "include",
    "match",
    "point",
    "affect",
    "apply",
    "stop",
    "come",
    "go",
    "make",
    "take",
    "keep",
    "read",
    "write",
    "delete",
    "move",
    "copy",
    "create",
    "add",
    "remove",
    "set",
    "enter",
    "type",
    "click",
    "try",
    "test",
    "mount",
    "unlock",
    "lock",
    "reset",
    "recall",
    "notice",
    "report",
    "experience",
    "share",
    "pair",
    "charge",
    "turn",
    "plug",
    "play",
    "record",
    "call",
    "email",
    "download",
    "upload",
    "launch",
    "attach",
    "register",
    "enrol",
    "enroll",
    "trust",
}
_IRREGULAR_PAST = {
    "get": "got",
    "see": "saw",
    "go": "went",
    "make": "made",
    "have": "had",
    "do": "did",
    "run": "ran",
    "take": "took",
    "send": "sent",
    "lose": "lost",
    "come": "came",
    "say": "said",
    "find": "found",
    "know": "knew",
    "begin": "began",
    "keep": "kept",
    "let": "let",
    "set": "set",
    "put": "put",
    "read": "read",
    "write": "wrote",
    "hear": "heard",
    "show": "showed",
    "give": "gave",
    "break": "broke",
    "freeze": "froze",
    "hang": "hung",
    "leave": "left",
    "build": "built",
    "feel": "felt",
    "tell": "told",
    "think": "thought",
    "bring": "brought",
    "stop": "stopped",
    "drop": "dropped",
    "log": "logged",
    "map": "mapped",
    "plan": "planned",
    "ship": "shipped",
    "plug": "plugged",
    "scan": "scanned",
    "chat": "chatted",
}
_PARTICIPLES = {
    "been",
    "seen",
    "done",
    "gone",
    "run",
    "sent",
    "got",
    "gotten",
    "taken",
    "given",
    "made",
    "had",
    "lost",
    "built",
    "known",
    "shown",
    "set",
    "put",
    "written",
    "begun",
    "broken",
    "frozen",
    "tried",
    "received",
    "installed",
    "updated",
    "changed",
    "restarted",
    "rebooted",
    "applied",
    "reset",
}
_ANTONYMS = {
    "running": ("stopped", "not running", "disabled", "paused"),
    "stopped": ("running", "started"),
    "online": ("offline",),
    "offline": ("online", "ready"),
    "enabled": ("disabled",),
    "disabled": ("enabled",),
    "connected": ("disconnected", "not connected"),
    "on": ("off",),
    "off": ("on",),
    "up": ("down",),
    "down": ("up",),
    "working": ("broken", "not working", "failing"),
    "locked": ("unlocked",),
    "unlocked": ("locked",),
    "expired": ("valid", "still valid"),
    "valid": ("expired", "invalid"),
    "correct": ("wrong", "incorrect", "behind", "ahead", "off by"),
    "showing": ("not showing",),
    "visible": ("missing", "not visible", "not there"),
}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _sentence(text: str, *, cap: bool = True) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if not text.endswith((".", "!", '."', ".”", '!"')):
        text += "."
    return _cap(text) if cap else text


def _third_person(verb: str) -> str:
    if verb == "have":
        return "has"
    if verb in ("do", "go"):
        return verb + "es"
    if re.search(r"(?:s|sh|ch|x|z)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


def _past(verb: str) -> str:
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ied"
    return verb + "ed"


def _you_to_user(words: list[str]) -> list[str]:
    out = []
    for w in words:
        low = w.lower()
        if low == "you":
            out.append("the user")
        elif low == "your":
            out.append("their")
        elif low == "yourself":
            out.append("themselves")
        else:
            out.append(w)
    return out


def _split_subject(words: list[str], mode: str) -> tuple[list[str], list[str]] | None:
    """Split the words after the auxiliary into subject and the rest.

    ``mode`` is ``be`` (predicate starts at an adjective, participle or preposition) or
    ``verb`` (rest starts at a base verb / participle). ``None`` when no split is found.
    """
    if not words:
        return None
    first = words[0].lower()
    if first in _AMBIGUOUS_PRONOUNS:
        return None
    if first in ("you", "there"):
        return [words[0]], words[1:]
    i = 1 if first in _DETERMINERS else 0
    if i >= len(words):
        return None
    i += 1  # the word right after a determiner (or the first word) is always part of the subject
    while i < len(words):
        w = words[i].lower()
        if mode == "be":
            if (
                w in _PRED_WORDS
                or w in _PREPOSITIONS
                or (len(w) > 4 and w.endswith(("ing", "ed", "en")))
                or (len(w) > 4 and w.endswith("ly"))
            ):
                break
        else:
            if w in _VERBS or w in _PARTICIPLES or w in _IRREGULAR_PAST.values() or (len(w) > 4 and w.endswith("ed")):
                break
        i += 1
    subject, rest = words[:i], words[i:]
    if not rest:
        if mode == "be" and len(subject) >= 3 and subject[-1].lower() not in _DETERMINERS:
            # "Is the problem intermittent": the last word is the predicate.
            return subject[:-1], subject[-1:]
        return None
    if mode == "be" and rest[0].lower() in _PREPOSITIONS and rest[-1].lower() in _ADJ_TAIL and len(rest) > 1:
        # "Is the time on the PC correct": the prepositional phrase belongs to the subject.
        return subject + rest[:-1], rest[-1:]
    return subject, rest


def _content_words(text: str) -> set[str]:
    return {w for w in _words(text) if len(w) > 2 and w not in _DETERMINERS and w not in _PREPOSITIONS}


def _starts_predicate(phrase: str) -> bool:
    first = phrase.split()[0].lower() if phrase.split() else ""
    return (
        first in _PREPOSITIONS
        or first in _PRED_WORDS - {"the", "a", "an", "still", "also", "now"}
        or (len(first) > 4 and first.endswith(("ing", "ed", "en")))
    )


def _question_core(question: str) -> str | None:
    """The first question sentence, without the question mark; ``None`` if there is none."""
    q = re.sub(r"\s+", " ", question).strip()
    m = re.match(r"^(.*?\?)", q)
    if m is None:
        return None
    core = m.group(1)[:-1].strip()
    # Polite wrappers: "Can you confirm whether X is Y" -> "whether X is Y".
    wrapper = re.match(
        r"^(?:can|could|would) you (?:please )?(?:confirm|check|verify|tell me|see) (?:whether|if) (.+)$", core, re.I
    )
    if wrapper:
        return "whether " + wrapper.group(1)
    return core


def _answer_is_yes_no_only(answer: str) -> bool:
    return bool(re.fullmatch(r"\W*(?:yes|yep|yeah|yup|no|nope|nah|y|n|true|false|ok)\W*", answer, re.I))


def _fact_from_whether(clause: str, reading: Literal["yes", "no"]) -> str | None:
    """``whether the printer is powered on`` -> the clause, negated after its auxiliary when needed."""
    words = clause.split()
    for idx, w in enumerate(words):
        low = w.lower()
        if low in _BE or low in _HAVE or low in _MODAL:
            subject = words[:idx]
            if not subject or subject[0].lower() in _AMBIGUOUS_PRONOUNS:
                return None
            if reading == "yes":
                return _sentence(" ".join(words))
            neg = _NEG_MODAL.get(low, low + " not")
            return _sentence(" ".join([*subject, neg, *words[idx + 1 :]]))
    return None


def _polar_fact(core: str, answer: str) -> SynthesisResult:
    words = core.split()
    aux = words[0].lower()
    if aux.endswith("n't") or (len(words) > 1 and words[1].lower() == "not"):
        return SynthesisResult(fact=None, reason="negative questions make yes/no ambiguous")
    if is_uncertain(answer, allow_intermittency=bool(_INTERMITTENT_RE.search(core))):
        return SynthesisResult(fact=None, reason="the answer is uncertain, partial or deferred")
    mode = "be" if aux in _BE else "verb"
    split = _split_subject(words[1:], mode)
    if split is None:
        return SynthesisResult(
            fact=None, reason="could not tell what the question is about (unclear or pronoun subject)"
        )
    subject, rest = split
    if subject[0].lower() == "you":
        subject = ["the user"]
        aux = {"are": "is", "were": "was", "do": "does", "have": "has"}.get(aux, aux)
    rest = _you_to_user(rest)
    subject_text = _cap(" ".join(subject))
    rest_text = " ".join(rest)

    # Alternatives: "Is the laptop on the office Wi-Fi or at home?" -> pick the one the answer names.
    if mode == "be" and " or " in rest_text:
        alternatives = [a.strip() for a in rest_text.split(" or ") if a.strip()]
        answer_words = _content_words(answer)
        chosen = [a for a in alternatives if answer_words & _content_words(a)]
        if not all(_starts_predicate(a) for a in alternatives):
            return SynthesisResult(fact=None, reason="the alternatives are not parallel; restating them would guess")
        if len(chosen) != 1 or yes_no(answer) is not None:
            return SynthesisResult(fact=None, reason="the answer does not pick exactly one of the alternatives")
        return SynthesisResult(
            fact=_sentence(f"{subject_text} {aux} {chosen[0]}"), reason="the answer picks one of the alternatives"
        )

    reading = yes_no(answer)
    head = rest[0].lower() if rest else ""
    if mode == "be" and head:
        # The answer may restate the predicate ("it's stopped") instead of saying yes/no.
        positive = mentions(answer, head) and not _negated_mention(answer, head)
        opposite = any(mentions(answer, ant) for ant in _ANTONYMS.get(head, ())) or _negated_mention(answer, head)
        if reading is None:
            if opposite and not positive:
                reading = "no"
            elif positive and not opposite and not _answer_is_yes_no_only(answer):
                reading = "yes"
        elif (reading == "yes" and opposite) or (reading == "no" and positive):
            return SynthesisResult(fact=None, reason="the answer contradicts itself")
    if reading is None:
        return SynthesisResult(fact=None, reason="the answer is not a clear yes or no")

    if aux in _BE:
        verb = aux if reading == "yes" else f"{aux} not"
        fact = f"{subject_text} {verb} {rest_text}"
    elif aux in _DO:
        verb_word, tail = rest[0], " ".join(rest[1:])
        if reading == "yes":
            conj = {"does": _third_person, "did": _past}.get(aux, lambda v: v)(verb_word.lower())
            fact = f"{subject_text} {conj} {tail}"
        else:
            fact = f"{subject_text} {aux} not {rest_text}"
    elif aux in _HAVE:
        fact = f"{subject_text} {aux} {rest_text}" if reading == "yes" else f"{subject_text} {aux} not {rest_text}"
    else:
        neg = _NEG_MODAL.get(aux, aux + " not")
        fact = f"{subject_text} {aux} {rest_text}" if reading == "yes" else f"{subject_text} {neg} {rest_text}"
    return SynthesisResult(fact=_sentence(fact), reason=f"clear {reading} to a yes/no question")


def _clean_answer(answer: str) -> str:
    text = re.sub(r"\s+", " ", answer).strip()
    return text.rstrip(".")


def _quote(answer: str) -> str:
    text = _clean_answer(answer)
    if re.fullmatch(r'["“].*["”]', text):
        return text
    return f'"{text}"'


def _number(answer: str) -> int | None:
    m = re.fullmatch(
        r"\W*(?:just |only |exactly )?(\d+|[a-z]+)(?: (?:users?|people|pcs?|devices?|of them))?\W*",
        answer.strip(),
        re.I,
    )
    if not m:
        return None
    token = m.group(1).lower()
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token)


def _wh_fact(core: str, answer: str) -> SynthesisResult:
    if is_uncertain(answer):
        return SynthesisResult(fact=None, reason="the answer is uncertain, partial or deferred")
    if _answer_is_yes_no_only(answer):
        return SynthesisResult(fact=None, reason="a yes/no answer does not answer an open question")
    if len(answer.strip()) > MAX_ANSWER_CHARS:
        return SynthesisResult(fact=None, reason="the answer is too long to state as one short fact")
    c = core
    value = _clean_answer(answer)
    quoted = bool(re.search(r"\b(?:error|message|text|say|says|warning|popup|prompt)\b", c, re.I))
    shown = _quote(answer) if quoted else value

    m = re.fullmatch(r"how many (.+?) (are|is|were|was) (.+)", c, re.I)
    if m:
        n = _number(answer)
        if n is None:
            return SynthesisResult(fact=None, reason="the answer to 'how many' is not a number")
        noun, verb, pred = m.group(1), m.group(2).lower(), m.group(3)
        if n == 1:
            noun = re.sub(r"s$", "", noun)
            verb = {"are": "is", "were": "was"}.get(verb, verb)
        return SynthesisResult(fact=_sentence(f"{n} {noun} {verb} {pred}"), reason="a number answers 'how many'")
    m = re.fullmatch(r"how much (.+?) (?:is|are) (.+)", c, re.I)
    if m:
        if not re.search(r"\d", value):
            return SynthesisResult(fact=None, reason="the answer to 'how much' has no quantity")
        return SynthesisResult(
            fact=_sentence(f"{m.group(1)} {m.group(2)} is {value}"), reason="a quantity answers 'how much'"
        )
    m = re.fullmatch(r"when did (.+?) (start|begin|stop|happen|occur|first happen|last work)(.*)", c, re.I)
    if m:
        subject_words = m.group(1).split()
        if subject_words[0].lower() in _AMBIGUOUS_PRONOUNS:
            return SynthesisResult(fact=None, reason="pronoun subject")
        verb = m.group(2)
        past = " ".join(_past(w) if i == len(verb.split()) - 1 else w for i, w in enumerate(verb.split()))
        return SynthesisResult(
            fact=_sentence(f"{m.group(1)}{' ' + past}{m.group(3)} {value}"), reason="the answer says when"
        )
    m = re.fullmatch(r"how long (has|have) (.+?) been (.+)", c, re.I)
    if m:
        subject = m.group(2)
        if subject.split()[0].lower() in _AMBIGUOUS_PRONOUNS or not re.search(r"\d", value):
            return SynthesisResult(fact=None, reason="no duration, or a pronoun subject")
        subject = " ".join(_you_to_user(subject.split()))
        return SynthesisResult(
            fact=_sentence(f"{subject} {m.group(1).lower()} been {m.group(3)}: {value}"),
            reason="the answer gives a duration",
        )
    m = re.fullmatch(r"what (does|do|did) (.+?) (show|say|display|report|return)(.*)", c, re.I)
    if m:
        subject = m.group(2)
        if subject.split()[0].lower() in _AMBIGUOUS_PRONOUNS:
            return SynthesisResult(fact=None, reason="pronoun subject")
        subject = " ".join(_you_to_user(subject.split()))
        verb = m.group(3).lower()
        conj = {"does": _third_person(verb), "did": _past(verb)}.get(m.group(1).lower(), verb)
        return SynthesisResult(
            fact=_sentence(f"{subject} {conj}{m.group(4)}: {_quote(answer)}"), reason="the answer names the value"
        )
    m = re.fullmatch(r"(?:what|which) (?:is|are|was|were) (?:the )?(.+)", c, re.I)
    if m:
        subject = m.group(1)
        if subject.split()[0].lower() in _AMBIGUOUS_PRONOUNS:
            return SynthesisResult(fact=None, reason="pronoun subject")
        verb = "are" if re.search(r"s$", subject.split()[-1]) and not quoted else "is"
        return SynthesisResult(fact=_sentence(f"The {subject} {verb} {shown}"), reason="the answer names the value")
    m = re.fullmatch(r"(?:what|which) (.+?) (is|are|was|were) (.+)", c, re.I)
    if m:
        if m.group(3).split()[0].lower() in _AMBIGUOUS_PRONOUNS | _DETERMINERS | {"you"}:
            # "Which printer is she trying to use": a clause with its own subject; restating it needs grammar.
            return SynthesisResult(fact=None, reason="could not restate this question as a fact")
        return SynthesisResult(
            fact=_sentence(f"The {m.group(1)} {m.group(3)} {m.group(2)} {shown}"), reason="the answer names the value"
        )
    m = re.fullmatch(r"what (.+?) (does|do|did) (.+?) (show|say|display|report|return|give)(.*)", c, re.I)
    if m:
        subject = m.group(3)
        if subject.split()[0].lower() in _AMBIGUOUS_PRONOUNS:
            return SynthesisResult(fact=None, reason="pronoun subject")
        subject = " ".join(_you_to_user(subject.split()))
        verb = m.group(4).lower()
        conj = {"does": _third_person(verb), "did": _past(verb)}.get(m.group(2).lower(), verb)
        return SynthesisResult(
            fact=_sentence(f"{subject} {conj} {m.group(1)}{m.group(5)}: {shown}"), reason="the answer names the value"
        )
    return SynthesisResult(fact=None, reason="could not phrase this open question as a fact")


def _question_fact(question: str, answer: str) -> SynthesisResult:
    core = _question_core(question)
    if core is None or not core:
        return SynthesisResult(fact=None, reason="the question is not a question")
    if not answer.strip():
        return SynthesisResult(fact=None, reason="no answer")
    first = core.split()[0].lower()
    if first == "whether":
        reading = yes_no(answer)
        if reading is None:
            return SynthesisResult(fact=None, reason="the answer is not a clear yes or no")
        fact = _fact_from_whether(core[len("whether ") :], reading)
        if fact is None:
            return SynthesisResult(fact=None, reason="could not restate the question as a statement")
        return SynthesisResult(fact=fact, reason=f"clear {reading} to a yes/no question")
    if first in _BE or first in _DO or first in _HAVE or first in _MODAL or first.endswith("n't"):
        return _polar_fact(core, answer)
    if first in ("what", "which", "how", "when"):
        return _wh_fact(core, answer)
    return SynthesisResult(fact=None, reason="could not phrase this question as a fact")


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------

_PS_ERROR_RE = re.compile(
    r"CategoryInfo\s*:|FullyQualifiedErrorId|^At line:\d+"
    r"|is not recognized as (?:the name of a cmdlet|an internal or external command)",
    re.M,
)
_SERVICE_ROW_RE = re.compile(
    r"^\s*(Running|Stopped|Paused|StartPending|StopPending|ContinuePending|PausePending)\s+(\S+)\s+(.+?)\s*$", re.M
)
_KV_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ()/_.-]*?)\s*:\s*(.*?)\s*$")
_STATUS_WORDS = {
    "running": "running",
    "stopped": "stopped",
    "paused": "paused",
    "startpending": "starting",
    "stoppending": "stopping",
    "continuepending": "resuming",
    "pausepending": "pausing",
}


def _kv_pairs(output: str) -> list[tuple[str, str]]:
    pairs = []
    for line in output.splitlines():
        if not line.strip() or set(line.strip()) <= set("-+|= "):
            continue
        m = _KV_RE.match(line)
        if m is None:
            continue
        pairs.append((m.group(1).strip(), m.group(2).strip()))
    return pairs


def _kv(output: str) -> dict[str, str]:
    return {k.lower(): v for k, v in _kv_pairs(output)}


def _service_fact(output: str) -> str | None:
    rows = _SERVICE_ROW_RE.findall(output)
    if rows and re.search(r"^\s*Status\s+Name\s+DisplayName", output, re.M):
        if len(rows) > 3:
            return None
        parts = [f"the {display} service ({name}) is {_STATUS_WORDS[status.lower()]}" for status, name, display in rows]
        return _sentence("; ".join(parts))
    kv = _kv(output)
    if "status" in kv and "name" in kv and kv["status"].lower() in _STATUS_WORDS:
        display = kv.get("displayname", kv["name"])
        return _sentence(f"the {display} service ({kv['name']}) is {_STATUS_WORDS[kv['status'].lower()]}")
    return None


def _tnc_fact(output: str) -> str | None:
    kv = _kv(output)
    target = kv.get("computername")
    if not target:
        return None
    if "tcptestsucceeded" in kv:
        ok = kv["tcptestsucceeded"].lower() == "true"
        port = kv.get("remoteport", "?")
        return _sentence(f"TCP connection to {target} on port {port} {'succeeded' if ok else 'failed'}")
    if "pingsucceeded" in kv:
        ok = kv["pingsucceeded"].lower() == "true"
        return _sentence(f"Ping to {target} {'succeeded' if ok else 'failed'}")
    return None


def _ping_fact(output: str) -> str | None:
    m = re.search(r"Ping request could not find host (\S+?)\.", output)
    if m:
        return _sentence(f"Ping could not resolve the host name {m.group(1)}")
    target = re.search(r"Ping statistics for ([^\s:]+):", output)
    stats = re.search(r"Sent = (\d+), Received = (\d+), Lost = (\d+) \((\d+)% loss\)", output)
    if target and stats:
        sent, received, _lost, loss = stats.groups()
        return _sentence(f"Ping to {target.group(1)}: {sent} sent, {received} received ({loss}% loss)")
    return None


def _nslookup_fact(output: str) -> str | None:
    server = re.search(r"^Server:\s*(\S+)", output, re.M)
    server_text = f" on DNS server {server.group(1)}" if server else ""
    m = re.search(r"can't find (\S+?):\s*(.+)$", output, re.M)
    if m:
        return _sentence(f"{m.group(1)} does not resolve{server_text} ({m.group(2).strip()})", cap=False)
    name = re.search(r"^Name:\s*(\S+)", output, re.M)
    if name is None:
        return None
    after = output[name.end() :]
    addresses = re.findall(r"(?:^Address(?:es)?:\s*|^\s+)(\S+)\s*$", after, re.M)
    addresses = [a for a in addresses if re.match(r"[0-9a-fA-F:.]+$", a)]
    if not addresses:
        return None
    server_text = f" (DNS server {server.group(1)})" if server else ""
    return _sentence(f"{name.group(1)} resolves to {', '.join(addresses[:4])}{server_text}", cap=False)


def _w32tm_fact(output: str) -> str | None:
    kv = _kv(output)
    source = kv.get("source")
    if not source:
        return None
    last = kv.get("last successful sync time")
    tail = f"; last successful sync {last}" if last else ""
    return _sentence(f"The Windows Time source is {source}{tail}")


def _ipconfig_fact(output: str) -> str | None:
    blocks = re.split(r"^(?=\S.*adapter .+:\s*$)", output, flags=re.M)
    for block in blocks:
        header = re.match(r"^\S.*adapter (.+?):\s*$", block, re.M)
        ip = re.search(r"IPv4 Address[ .]*:\s*([0-9.]+)", block)
        if header is None or ip is None:
            continue
        gw = re.search(r"Default Gateway[ .]*:\s*([0-9.]*)", block)
        gateway = f"default gateway {gw.group(1)}" if gw and gw.group(1) else "no default gateway"
        return _sentence(f"Adapter {header.group(1)} has IPv4 address {ip.group(1)} and {gateway}")
    return None


def _bitlocker_fact(output: str) -> str | None:
    volume = re.search(r"^Volume (\S+)", output, re.M)
    kv = _kv(output)
    keys = ["conversion status", "protection status", "lock status"]
    found = [(k, kv[k]) for k in keys if k in kv]
    if not volume or not found:
        return None
    parts = ", ".join(f"{k.title()} {v}" for k, v in found)
    return _sentence(f"BitLocker on volume {volume.group(1)} reports {parts}")


def _dsregcmd_fact(output: str) -> str | None:
    pairs = _kv_pairs(output)
    wanted = ["AzureAdJoined", "DomainJoined", "AzureAdPrt", "WorkplaceJoined"]
    found = [(k, v) for k, v in pairs if k in wanted and v]
    if not found:
        return None
    return _sentence("dsregcmd /status reports " + ", ".join(f"{k} {v}" for k, v in found), cap=False)


def _net_use_fact(output: str) -> str | None:
    rows = re.findall(r"^(OK|Unavailable|Disconnected|Reconnecting)?\s+([A-Z]:)\s+(\\\\\S+)", output, re.M)
    if not rows:
        return None
    parts = [f"{drive} ({remote}) is {status or 'listed without status'}" for status, drive, remote in rows[:4]]
    return _sentence("Mapped drives: " + "; ".join(parts))


def _event_fact(output: str) -> str | None:
    lines = output.splitlines()
    for idx, line in enumerate(lines):
        header = re.match(r"^(TimeCreated|TimeGenerated)\s+(?:Id|EventID|InstanceId)\s+", line)
        if header is None or idx + 1 >= len(lines) or not lines[idx + 1].strip().startswith("-"):
            continue
        rows = []
        for row in lines[idx + 2 :]:
            m = re.match(r"^(\d\S+ \d\S+)\s+(\d+)\s+(Error|Warning|Information|Critical|Verbose)?\s*(.*)$", row.strip())
            if m:
                rows.append(m.groups())
            elif row.strip() == "":
                continue
            else:
                break
        if not rows:
            return None
        ids = [r[1] for r in rows]
        if any(i != ids[0] for i in ids):
            return None
        when, event_id, level, message = rows[0]
        first_sentence = re.split(r"(?<=\.)\s", message.strip())[0].rstrip(".").rstrip()
        first_sentence = re.sub(r"\.\.\.$", "", first_sentence)
        times = "once" if len(rows) == 1 else f"{len(rows)} times"
        level_text = f" ({level})" if level else ""
        return _sentence(f"Event ID {event_id}{level_text} was logged {times}, latest at {when}: {first_sentence}")
    return None


def _disk_fact(output: str) -> str | None:
    kv = _kv(output)
    if "deviceid" in kv and "freegb" in kv:
        pct = f" ({kv['freepct']}% free)" if "freepct" in kv else ""
        return _sentence(f"Drive {kv['deviceid']} has {kv['freegb']} GB free{pct}")
    return None


def _one_row_table_fact(title: str, output: str) -> str | None:
    """A table with a header, a dashes line and exactly one row of at most five columns."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    if len(lines) != 3 or not re.fullmatch(r"[\s-]+", lines[1]):
        return None
    headers = lines[0].split()
    values = lines[2].split()
    if not 1 <= len(headers) <= 5 or len(values) != len(headers):
        return None
    return _sentence(f"{title}: " + ", ".join(f"{h} is {v}" for h, v in zip(headers, values, strict=True)))


def _generic_kv_fact(title: str, output: str) -> str | None:
    pairs = [(k, v) for k, v in _kv_pairs(output) if v]
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not pairs or len(pairs) > 4 or len(pairs) != len(lines):
        return None
    return _sentence(f"{title}: " + ", ".join(f"{k} is {v}" for k, v in pairs))


def _check_fact(title: str, command: str, output: str) -> SynthesisResult:
    text = output.replace("\r\n", "\n")
    if not text.strip():
        return SynthesisResult(fact=None, reason="the output is empty: it may mean nothing found or that nothing ran")
    if _PS_ERROR_RE.search(text):
        return SynthesisResult(fact=None, reason="the command failed; its error says nothing about the system")
    if is_uncertain(text) and not re.search(r"\n", text.strip()):
        return SynthesisResult(fact=None, reason="the reported output is uncertain")
    cmd = command.lower()
    readers = [
        ("service status", _service_fact),
        ("Test-NetConnection result", _tnc_fact),
        ("ping statistics", _ping_fact),
        ("DNS lookup", _nslookup_fact if "nslookup" in cmd or "resolve-dnsname" in cmd else (lambda _o: None)),
        ("time service status", _w32tm_fact if "w32tm" in cmd else (lambda _o: None)),
        ("IP configuration", _ipconfig_fact if "ipconfig" in cmd else (lambda _o: None)),
        ("BitLocker status", _bitlocker_fact if "manage-bde" in cmd else (lambda _o: None)),
        ("device join state", _dsregcmd_fact if "dsregcmd" in cmd else (lambda _o: None)),
        ("mapped drives", _net_use_fact if "net use" in cmd else (lambda _o: None)),
        ("event log entries", _event_fact),
        ("disk free space", _disk_fact),
    ]
    for label, reader in readers:
        fact = reader(text)
        if fact:
            return SynthesisResult(fact=_limit(fact), reason=f"read from the {label} in the output")
    title_text = title.strip() or command.strip().splitlines()[0]
    fact = _generic_kv_fact(title_text, text)
    if fact:
        return SynthesisResult(fact=_limit(fact), reason="short property list, stated as shown")
    fact = _one_row_table_fact(title_text, text)
    if fact:
        return SynthesisResult(fact=_limit(fact), reason="one-row table, stated as shown")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1 and len(lines[0]) <= 120:
        return SynthesisResult(
            fact=_sentence(f'{title_text} returned "{lines[0]}"'), reason="single-line output, quoted as shown"
        )
    return SynthesisResult(fact=None, reason="the output needs interpretation; not stating a fact")


def _limit(fact: str) -> str | None:
    return fact if len(fact) <= MAX_FACT_CHARS else None


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def synthesize_fact(payload: Mapping[str, Any]) -> SynthesisResult:
    """Synthesise at most one fact from an answered question or a completed check."""
    kind = payload.get("kind")
    if kind == "question":
        question = str(payload.get("question") or "")
        answer = str(payload.get("answer") or "")
        result = _question_fact(question, answer)
    elif kind == "check":
        title = str(payload.get("title") or payload.get("question") or "")
        command = str(payload.get("command") or "")
        output = str(payload.get("output") if payload.get("output") is not None else payload.get("answer") or "")
        result = _check_fact(title, command, output)
    else:
        return SynthesisResult(fact=None, reason=f"unknown item kind {kind!r}")
    if result.fact is not None and len(result.fact) > MAX_FACT_CHARS:
        return SynthesisResult(fact=None, reason="the fact would be too long to be one short statement")
    return result
