"""Restating a yes/no question as the statement a bare yes or no confirms.

``Is the VPN client connected?`` + no → ``The VPN client is not connected.`` The rule is
the one English uses for yes/no questions: an auxiliary, a subject, the rest. The subject
must end where the rest clearly starts (a participle, an ``-ing`` form, an adverb, or for
``do``/modal questions a verb), otherwise there is no statement and so no fact: a question
the rule cannot split safely is left as an answered item.

Only closed word classes are listed (auxiliaries, determiners, pronouns, prepositions),
plus the irregular participles and the common base verbs of troubleshooting questions.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["auxiliary_of", "restate"]

_BE = {"is", "are", "was", "were"}
_DO = {"do", "does", "did"}
_HAVE = {"has", "have", "had"}
_MODALS = {"can", "could", "will", "would", "should"}
_NOT = {
    "can": "cannot", "could": "could not", "will": "will not", "would": "would not", "should": "should not",
    "is": "is not", "are": "are not", "was": "was not", "were": "were not", "has": "has not",
    "have": "have not", "had": "had not", "do": "do not", "does": "does not", "did": "did not",
}  # fmt: skip
_DETERMINERS = {
    "the", "a", "an", "other", "another", "any", "all", "both", "each", "every", "some", "these", "those",
    "his", "her", "their", "our", "its", "last",
}  # fmt: skip
_ARTICLES = {"the", "a", "an"}
# Pronouns and indefinites: "it" needs the conversation to mean anything, and "no" to
# "Was anything changed?" is "nothing was changed", which inversion cannot say.
_UNSAFE_SUBJECTS = {
    "it", "this", "that", "they", "he", "she", "we", "i", "them", "these", "those", "you", "there",
    "anything", "anyone", "anybody", "something", "someone", "somebody", "everyone", "everything",
    "everybody", "nobody", "nothing",
}  # fmt: skip
_PREPOSITIONS = {
    "on", "in", "at", "for", "from", "with", "to", "behind", "under", "over", "via", "within", "inside",
    "outside", "off", "out", "up", "down", "as", "into", "through", "near", "by", "of", "after", "before",
    "since", "during", "without",
}  # fmt: skip
_IRREGULAR_PARTICIPLES = {
    "been", "seen", "done", "gone", "run", "sent", "got", "gotten", "taken", "given", "made", "had", "lost",
    "built", "known", "shown", "set", "put", "written", "begun", "broken", "frozen", "stuck", "hung", "kept",
    "left", "held", "found", "shut", "cut", "bound", "spent", "paid", "read", "able", "unable",
}  # fmt: skip
_BASE_VERBS = {
    "print", "connect", "access", "open", "sign", "log", "see", "reach", "ping", "send", "receive", "map",
    "browse", "hear", "join", "use", "load", "install", "run", "resolve", "authenticate", "start", "boot",
    "get", "find", "save", "happen", "occur", "appear", "show", "display", "work", "respond", "change",
    "restart", "reboot", "update", "sync", "have", "need", "know", "lose", "drop", "disconnect", "fail",
    "crash", "freeze", "hang", "allow", "accept", "reject", "block", "prompt", "ask", "say", "contain",
    "include", "match", "point", "affect", "apply", "stop", "come", "go", "keep", "read", "write", "delete",
    "move", "copy", "create", "add", "remove", "enter", "type", "try", "mount", "unlock", "lock", "reset",
    "notice", "report", "share", "pair", "charge", "turn", "plug", "play", "record", "call", "download",
    "upload", "launch", "attach", "register", "enrol", "enroll", "trust", "complete", "finish", "expire",
    "detect", "recognise", "recognize", "list", "return", "pass", "succeed", "hold", "exist",
}  # fmt: skip
_WHETHER_RE = re.compile(r"^(?:can|could) you (?:confirm|check|tell me|see|find out) (?:whether|if) (.+)$", re.I)

Polarity = Literal["yes", "no"]


def _core(question: str) -> str | None:
    text = re.sub(r"\s+", " ", question).strip()
    if not text.endswith("?") or text.count("?") != 1:
        return None
    return text[:-1].strip()


def auxiliary_of(question: str) -> str | None:
    """The auxiliary a bare answer may echo ("is" for "Is the VPN up?"), or ``None``."""
    core = _core(question)
    if core is None:
        return None
    whether = _WHETHER_RE.match(core)
    if whether:
        words = whether.group(1).split()
        found = next((w.lower() for w in words if w.lower() in _BE | _HAVE | _MODALS), None)
        return found
    first = core.split()[0].lower()
    return first if first in _BE | _DO | _HAVE | _MODALS else None


def _is_participle(word: str) -> bool:
    low = word.lower()
    return (
        low in _IRREGULAR_PARTICIPLES
        or (len(low) > 4 and low.endswith(("ed", "ing")))
        or (len(low) > 4 and low.endswith("ly"))
    )


def _subject_ok(subject: list[str], *, allow_phrase: bool = False) -> bool:
    """A subject the statement can start with: a noun phrase, not a pronoun.

    ``allow_phrase`` accepts a prepositional phrase inside it ("Outlook on the web"): right
    for do/modal questions, where the verb marks the end of the subject; for be/have
    questions a preposition may already be the predicate ("the laptop on the network").
    """
    if not subject:
        return False
    lowered = [w.lower() for w in subject]
    if lowered[0] in _UNSAFE_SUBJECTS or (lowered[0] in _DETERMINERS and len(subject) < 2):
        return False
    if allow_phrase:
        return True
    if any(w in _ARTICLES for w in lowered[1:]):
        return False
    return not any(w in _PREPOSITIONS for w in lowered)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(subject: list[str], verb: str, rest: list[str]) -> str:
    words = [*subject, verb, *rest]
    text = " ".join(words)
    return _cap(text) + "."


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


def _split_be(words: list[str]) -> tuple[list[str], list[str]] | None:
    """Subject and predicate after is/are/was/were."""
    start = 2 if words and words[0].lower() in _DETERMINERS else 1
    for i in range(start, len(words)):
        low = words[i].lower()
        if low in _PREPOSITIONS:
            return None  # "the laptop on the network" or "the time on the PC correct": can't tell
        if _is_participle(words[i]):
            # A second verb form not introduced by an article or preposition ("devices connected
            # to the Wi-Fi working") means a reduced clause: no safe split.
            for j in range(i + 1, len(words)):
                if _is_participle(words[j]) and words[j - 1].lower() not in _PREPOSITIONS | _ARTICLES:
                    return None
            return words[:i], words[i:]
    # No participle: "the printer online", "the C: drive full" (the last word is the predicate).
    if len(words) - start >= 1 and len(words) >= 2:
        return words[:-1], words[-1:]
    return None


def _split_verb(words: list[str]) -> tuple[list[str], str, list[str]] | None:
    """Subject, base verb and the rest after do/does/did or a modal."""
    start = 2 if words and words[0].lower() in _DETERMINERS else 1
    for i in range(start, len(words)):
        low = words[i].lower()
        if low in _BASE_VERBS:
            if i + 1 < len(words) and words[i + 1].lower() in _BASE_VERBS:
                return None  # "Does the VPN log show errors?": which word is the verb?
            return words[:i], low, words[i + 1 :]
    return None


def _split_have(words: list[str]) -> tuple[list[str], list[str]] | None:
    start = 2 if words and words[0].lower() in _DETERMINERS else 1
    for i in range(start, len(words)):
        if words[i].lower() in _PREPOSITIONS:
            return None
        if _is_participle(words[i]) and not words[i].lower().endswith(("ing", "ly")):
            return words[:i], words[i:]
    return None


def _lower_first(words: list[str]) -> list[str]:
    if words and words[0].lower() in _DETERMINERS:
        return [words[0].lower(), *words[1:]]
    return words


def restate(question: str, polarity: Polarity) -> str | None:
    """The statement a bare ``polarity`` answer to ``question`` confirms, or ``None``."""
    core = _core(question)
    if core is None:
        return None
    words = core.split()
    lowered = [w.lower() for w in words]
    if " or " in f" {core.lower()} " or any(w in ("not", "never") or w.endswith("n't") for w in lowered):
        return None  # "A or B?" is not a yes/no question; a negative question makes "no" ambiguous
    whether = _WHETHER_RE.match(core)
    if whether:
        return _restate_clause(whether.group(1).split(), polarity)
    aux, rest = lowered[0], words[1:]
    if not rest:
        return None
    if aux in _BE:
        if rest[0].lower() == "there" and len(rest) > 1:
            if polarity == "no":
                return None  # "There is not an error" reads badly; "no error" would need the article rewritten
            return _sentence(["There"], aux, rest[1:])
        split = _split_be(rest)
        if split is None or not _subject_ok(split[0]):
            return None
        verb = aux if polarity == "yes" else _NOT[aux]
        return _sentence(_lower_first(split[0]), verb, split[1])
    if aux in _HAVE:
        split_have = _split_have(rest)
        if split_have is None or not _subject_ok(split_have[0]):
            return None
        verb = aux if polarity == "yes" else _NOT[aux]
        return _sentence(_lower_first(split_have[0]), verb, split_have[1])
    if aux in _DO or aux in _MODALS:
        split_verb = _split_verb(rest)
        if split_verb is None or not _subject_ok(split_verb[0], allow_phrase=True):
            return None
        subject, base, after = split_verb
        if polarity == "no":
            return _sentence(_lower_first(subject), f"{_NOT[aux]} {base}", after)
        if aux == "does":
            return _sentence(_lower_first(subject), _third_person(base), after)
        # "did" + yes keeps the auxiliary ("did complete") rather than guess an irregular past.
        verb = base if aux == "do" else f"{aux} {base}"
        return _sentence(_lower_first(subject), verb, after)
    return None


def _restate_clause(words: list[str], polarity: Polarity) -> str | None:
    """A declarative clause from "whether ..." (``the printer is powered on``)."""
    for i, word in enumerate(words):
        low = word.lower()
        if low in _BE | _HAVE | _MODALS:
            subject = words[:i]
            if not _subject_ok(subject):
                return None
            verb = low if polarity == "yes" else _NOT[low]
            return _sentence(_lower_first(subject), verb, words[i + 1 :])
    return None
