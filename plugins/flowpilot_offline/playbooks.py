"""The offline troubleshooting engine: recognise the problem, walk its playbook, reply in markers.

Playbooks live in ``playbooks.json`` (data, loaded once into msgspec structs). A reply
is a pure function of the chat call's inputs (ticket, facts, task lane, history and
the new technician message): no randomness, no clock, no set iteration, so the same
conversation gets the same reply in any process.

How a turn is computed:

1. **Which playbook.** The playbook whose step the assistant asked most recently
   (found in the history) stays active. Otherwise the ticket and everything the
   technician wrote are scored against each playbook's weighted keywords and regex
   patterns; the best score wins (ties: file order). Nothing recognised → the general
   triage playbook, which hands over to a real playbook as soon as the answers make
   one recognisable.
2. **Where we are.** Starting at the first step, each step's answer is looked up: an
   answered task-lane item for that step, otherwise the technician messages after the
   assistant asked it (the new message last). The answer picks a branch (first match
   wins); hedged, partial or unclear answers pick none.
3. **Reply.** Facts confirmed *by the new message* are promoted (with the task-lane
   item's id as ``ref`` when there is one); then the next unasked step is asked as a
   ``[QUESTION]`` or ``[CHECK]``, or a conclusion is proposed with ``[SUGGEST_FIX]`` and
   an ``[ACTION]`` to verify it. An unclear answer gets a clarifying reply and no marker.

Everything quoted from the ticket or the technician passes through ``defuse_markers``
so user text can never become a marker in the reply.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from flowpilot_core.markers import (
    CheckMarker,
    QuestionMarker,
    default_parsers,
    defuse_markers,
    parse_assistant_output,
    render_marker,
)
from flowpilot_offline.answers import bare_yes_no, is_uncertain, mentions
from flowpilot_offline.statements import auxiliary_of
from flowpilot_offline.ticket_parse import extract_emails, find_devices

__all__ = [
    "Branch",
    "Conclusion",
    "Condition",
    "Playbook",
    "PlaybookLibrary",
    "PlaybookScript",
    "ScriptParameter",
    "Step",
    "find_playbook",
    "load_playbooks",
    "reply",
    "score_playbooks",
]

PLAYBOOKS_PATH = Path(__file__).with_name("playbooks.json")
_PARSERS = default_parsers()  # our own replies are assistant output: reading them back is legitimate
MIN_SCORE = 4  # below this, a keyword hit is too weak to name the problem


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


class Condition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When a branch applies. Every criterion given must hold.

    ``answer``: a clear yes or no. ``contains``: any of these phrases, not negated
    (the matched phrase becomes ``{value}``). ``regex``: searched case-insensitively,
    multi-line; group 1 (or the whole match) becomes ``{value}``. ``number_below`` /
    ``number_at_least``: compare ``{value}`` (or the first number in the answer).
    ``any_answer``: any clear, non-empty answer.
    """

    answer: Literal["yes", "no"] | None = None
    contains: tuple[str, ...] = ()
    regex: str | None = None
    number_below: float | None = None
    number_at_least: float | None = None
    any_answer: bool = False


class Branch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One way a step's answer moves the conversation.

    ``promote`` is the fact template confirmed by the answer; then either ``next``
    (a step id) or ``conclude`` (a conclusion id); neither means the playbook is
    exhausted. ``examples`` are answers that take this branch (documentation and tests).
    """

    when: Condition
    promote: str | None = None
    next: str | None = None
    conclude: str | None = None
    say: str | None = None
    examples: tuple[str, ...] = ()


class Step(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A question or a diagnostic check. For checks, ``text`` is the check's title."""

    id: str
    kind: Literal["question", "check"]
    text: str
    why: str = ""
    command: str | None = None
    shell: Literal["powershell", "cmd"] | None = None
    branches: tuple[Branch, ...] = ()


class ScriptParameter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A script parameter; ``sensitive`` ones are redacted from notes and previews."""

    name: str
    description: str
    sensitive: bool = False
    required: bool = True


class PlaybookScript(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A PowerShell script that applies a fix, with its parameters."""

    name: str
    description: str
    body: str
    shell: Literal["powershell"] = "powershell"
    parameters: tuple[ScriptParameter, ...] = ()


class Conclusion(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A diagnosis: root cause, fix steps, how to verify, and an optional script."""

    id: str
    title: str
    root_cause: str
    fix_steps: tuple[str, ...]
    verify: str
    script: PlaybookScript | None = None


class Playbook(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One common MSP problem: how to recognise it, diagnose it and fix it."""

    id: str
    title: str
    category: str
    intro: str
    keywords: dict[str, int] = msgspec.field(default_factory=dict)
    patterns: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    conclusions: tuple[Conclusion, ...] = ()

    def step(self, step_id: str) -> Step | None:
        """The step with ``step_id``."""
        return next((s for s in self.steps if s.id == step_id), None)

    def conclusion(self, conclusion_id: str) -> Conclusion | None:
        """The conclusion with ``conclusion_id``."""
        return next((c for c in self.conclusions if c.id == conclusion_id), None)

    @property
    def primary(self) -> Conclusion | None:
        """The most common diagnosis (the first conclusion)."""
        return self.conclusions[0] if self.conclusions else None

    @property
    def root_cause(self) -> str | None:
        """Root cause of the primary conclusion."""
        return self.primary.root_cause if self.primary else None

    @property
    def fix_steps(self) -> tuple[str, ...]:
        """Fix steps of the primary conclusion."""
        return self.primary.fix_steps if self.primary else ()

    @property
    def script(self) -> PlaybookScript | None:
        """Script of the primary conclusion, if it has one."""
        return self.primary.script if self.primary else None


class PlaybookLibrary(msgspec.Struct, frozen=True, kw_only=True):
    """All playbooks plus the general triage playbook used when none is recognised."""

    version: int
    playbooks: tuple[Playbook, ...]
    triage: Playbook
    description: str = ""

    def get(self, playbook_id: str) -> Playbook | None:
        """The playbook (or triage) with ``playbook_id``."""
        if playbook_id == self.triage.id:
            return self.triage
        return next((p for p in self.playbooks if p.id == playbook_id), None)


@functools.lru_cache(maxsize=4)
def load_playbooks(path: Path = PLAYBOOKS_PATH) -> PlaybookLibrary:
    """Load and decode the playbook file (cached; the file is read-only data)."""
    return msgspec.json.decode(path.read_bytes(), type=PlaybookLibrary)


# ---------------------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------------------


def _phrase_re(phrase: str) -> re.Pattern[str]:
    # Word boundaries only where the phrase starts/ends with a word character, so
    # "c: drive" and "-7200" work as well as "vpn".
    start = r"(?<![\w])" if re.match(r"\w", phrase) else ""
    end = r"(?![\w])" if re.search(r"\w$", phrase) else ""
    return re.compile(start + re.escape(phrase) + end, re.I)


@functools.lru_cache(maxsize=1024)
def _cached_phrase_re(phrase: str) -> re.Pattern[str]:
    return _phrase_re(phrase)


def _score(playbook: Playbook, summary: str, body: str) -> int:
    score = 0
    for phrase, weight in playbook.keywords.items():
        pattern = _cached_phrase_re(phrase)
        # The ticket summary is the requester's own one-line diagnosis: it counts double.
        if pattern.search(summary):
            score += 2 * weight
        elif pattern.search(body):
            score += weight
    for regex in playbook.patterns:
        if re.search(regex, summary) or re.search(regex, body):
            score += 4
    return score


def score_playbooks(summary: str, body: str, library: PlaybookLibrary | None = None) -> list[tuple[str, int]]:
    """Every playbook with a positive score, best first (ties keep file order)."""
    library = library or load_playbooks()
    scored = [(p.id, _score(p, summary, body)) for p in library.playbooks]
    ranked = sorted(enumerate(scored), key=lambda item: (-item[1][1], item[0]))
    return [pair for _, pair in ranked if pair[1] > 0]


def find_playbook(
    text: str = "",
    *,
    summary: str = "",
    ticket: Mapping[str, Any] | None = None,
    library: PlaybookLibrary | None = None,
) -> Playbook | None:
    """The playbook that best matches a problem description, or ``None``.

    Pass free ``text`` (and optionally the one-line ``summary``), or a ``ticket`` dict
    (its ``summary`` and ``description`` are used). Later phases use the result's
    conclusions (root cause, fix steps, script).
    """
    library = library or load_playbooks()
    if ticket is not None:
        summary = f"{summary} {ticket.get('summary') or ticket.get('problem_statement') or ''}".strip()
        text = f"{text}\n{ticket.get('description') or ''}\n{ticket.get('problem_statement') or ''}"
    ranked = score_playbooks(summary, text, library)
    if not ranked or ranked[0][1] < MIN_SCORE:
        return None
    return library.get(ranked[0][0])


# ---------------------------------------------------------------------------------------
# Reading the conversation
# ---------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower().rstrip("?.!: ")


def _role_content(message: Any) -> tuple[str, str]:
    if isinstance(message, Mapping):
        return str(message.get("role", "")), str(message.get("content", ""))
    return str(getattr(message, "role", "")), str(getattr(message, "content", ""))


@functools.lru_cache(maxsize=256)
def _asked_markers(message: str) -> tuple[tuple[str, str], ...] | None:
    """(kind, text) of the questions and checks in a raw assistant message; ``None`` if it has none."""
    found = tuple(
        ("question", _norm(m.text)) if isinstance(m, QuestionMarker) else ("check", _norm(m.title))
        for m in parse_assistant_output(message, _PARSERS).markers
        if isinstance(m, QuestionMarker | CheckMarker)
    )
    return found or None


def _asked_in(step: Step, message: str) -> bool:
    """Did this assistant message ask ``step``?

    History may hold the raw reply (markers) or its display text. With markers, only an
    actual QUESTION/CHECK for the step counts, so a step merely mentioned in prose is not
    "asked". Without markers, the display forms are matched: the question text, or
    "Check: <title>"; our own clarifications quote the step and count as asking again.
    """
    asked = _asked_markers(message)
    if asked is not None:
        return (step.kind, _norm(step.text)) in asked
    text = _norm(message)
    if step.kind == "check":
        return f"check: {_norm(step.text)}" in text or f'"{_norm(step.text)}"' in text
    return _norm(step.text) in text


def _evaluate(condition: Condition, answer: str, auxiliary: str | None = None) -> tuple[bool, str]:
    text = answer.strip()
    value = ""
    if not text:
        return False, ""
    if condition.answer is not None and bare_yes_no(text, auxiliary) != condition.answer:
        return False, ""
    if condition.contains:
        hit = next((term for term in condition.contains if mentions(text, term)), None)
        if hit is None:
            return False, ""
        found = re.search(re.escape(hit), text, re.I)
        value = found.group(0) if found else hit
    if condition.regex is not None:
        m = re.search(condition.regex, text, re.I | re.M)
        if m is None:
            return False, ""
        value = (m.group(1) if m.re.groups else m.group(0)).strip()
    if condition.number_below is not None or condition.number_at_least is not None:
        number_text = value if re.fullmatch(r"-?\d+(?:\.\d+)?", value or "") else None
        if number_text is None:
            first = re.search(r"-?\d+(?:\.\d+)?", text)
            number_text = first.group(0) if first else None
        if number_text is None:
            return False, ""
        number = float(number_text)
        if condition.number_below is not None and not number < condition.number_below:
            return False, ""
        if condition.number_at_least is not None and not number >= condition.number_at_least:
            return False, ""
    if condition.any_answer and not value:
        value = text
    return True, value


def _looks_like_output(text: str) -> bool:
    return "\n" in text.strip() or bool(re.search(r"\S\s*:\s*\S|\s{3,}", text))


def choose_branch(step: Step, answer: str) -> tuple[Branch, str] | None:
    """The branch ``answer`` takes at ``step`` and the captured value, or ``None`` if unclear."""
    if not answer.strip():
        return None
    # A hedged answer ("I think so", "not sure") confirms nothing. Pasted command output
    # is exempt: words like "wait" or "may be" inside it are not the technician hedging.
    if (step.kind == "question" or not _looks_like_output(answer)) and is_uncertain(answer):
        return None
    for branch in step.branches:
        ok, value = _evaluate(branch.when, answer, auxiliary_of(step.text))
        if ok:
            return branch, value
    return None


class _LaneItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    text: str
    status: str
    answer: str


def _lane_items(task_lane: Any) -> list[_LaneItem]:
    items: list[_LaneItem] = []
    for raw in task_lane or []:
        if not isinstance(raw, Mapping):
            continue
        answer = raw.get("answer") if raw.get("answer") is not None else raw.get("output")
        items.append(
            _LaneItem(
                id=str(raw.get("id") or ""),
                kind=str(raw.get("kind") or ""),
                text=" ".join(str(raw.get(k) or "") for k in ("text", "title", "command")).strip(),
                status=str(raw.get("status") or "").lower(),
                answer=str(answer or ""),
            )
        )
    return items


_DONE_STATUSES = ("answered", "done", "completed", "complete", "resolved", "promoted")


def _lane_item_for(step: Step, items: list[_LaneItem]) -> _LaneItem | None:
    """The task-lane item for ``step``: same kind and text; the newest open one wins."""
    wanted = _norm(step.text)
    matches = [i for i in items if i.kind == step.kind and i.id and wanted and wanted in _norm(i.text)]
    if not matches:
        return None
    open_items = [i for i in matches if i.status not in _DONE_STATUSES]
    return (open_items or matches)[-1]


# ---------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------


class _Taken(msgspec.Struct, frozen=True, kw_only=True):
    step: Step
    branch: Branch
    value: str
    from_request: bool
    item_id: str | None


class _Walk(msgspec.Struct, kw_only=True):
    taken: list[_Taken]
    stop: Step | None = None  # the step that needs an answer now
    stop_asked: bool = False  # ...and it was already asked
    unclear: str | None = None  # the new message, if it was meant for stop but unclear
    conclusion: Conclusion | None = None
    exhausted: bool = False


def _walk(playbook: Playbook, conversation: list[tuple[str, str]], items: list[_LaneItem], request: str) -> _Walk:
    walk = _Walk(taken=[])
    step: Step | None = playbook.steps[0] if playbook.steps else None
    visited: list[str] = []
    last = len(conversation) - 1
    while step is not None and step.id not in visited:
        visited.append(step.id)
        item = _lane_item_for(step, items)
        asked_at = max(
            (i for i, (role, text) in enumerate(conversation) if role == "assistant" and _asked_in(step, text)),
            default=None,
        )
        candidates: list[tuple[str, bool]] = []
        if item is not None and item.answer.strip() and item.status in _DONE_STATUSES:
            candidates.append((item.answer, False))
        if asked_at is not None:
            for i in range(asked_at + 1, len(conversation)):
                role, text = conversation[i]
                if role == "user":
                    candidates.append((text, i == last and bool(request)))
        choice: tuple[Branch, str, bool] | None = None
        for text, from_request in candidates:
            picked = choose_branch(step, text)
            if picked is not None:
                choice = (picked[0], picked[1], from_request)
                break
        if choice is None:
            walk.stop = step
            walk.stop_asked = asked_at is not None or (item is not None)
            if asked_at is not None and request and conversation and conversation[-1][0] == "user" and last > asked_at:
                walk.unclear = request
            return walk
        branch, value, from_request = choice
        walk.taken.append(
            _Taken(
                step=step,
                branch=branch,
                value=value,
                from_request=from_request,
                item_id=item.id if item is not None else None,
            )
        )
        if branch.conclude:
            walk.conclusion = playbook.conclusion(branch.conclude)
            return walk
        step = playbook.step(branch.next) if branch.next else None
    walk.exhausted = True
    return walk


# ---------------------------------------------------------------------------------------
# Writing the reply
# ---------------------------------------------------------------------------------------


def _placeholders(ticket: Mapping[str, Any]) -> dict[str, str]:
    text = " ".join(str(ticket.get(k) or "") for k in ("summary", "description", "problem_statement", "contact"))
    contact_emails = extract_emails(str(ticket.get("contact") or ""))
    emails = extract_emails(text)
    upn = (contact_emails or emails or ["user@contoso.com"])[0]
    others = [e for e in emails if e.lower() != upn.lower()]
    devices = find_devices(text)
    hosts = re.findall(r"https?://([A-Za-z0-9.-]+)", text)
    safe = re.compile(r"^[A-Za-z0-9._@-]+$")  # never paste anything quote-breaking into a command

    def pick(value: str, default: str) -> str:
        return value if safe.match(value) else default

    return {
        "{upn}": pick(upn, "user@contoso.com"),
        "{sam}": pick(upn.split("@")[0], "username"),
        "{shared}": pick(others[0], "shared@contoso.com") if others else "shared@contoso.com",
        "{computer}": pick(devices[0], "PC-NAME") if devices else "PC-NAME",
        "{host}": pick(hosts[0], "www.contoso.com") if hosts else "www.contoso.com",
    }


def _command(step: Step, placeholders: Mapping[str, str]) -> str:
    command = step.command or ""
    for token, value in placeholders.items():
        command = command.replace(token, value)
    return command


def _ask(step: Step, placeholders: Mapping[str, str]) -> str:
    if step.kind == "question":
        return render_marker("QUESTION", step.text)
    return render_marker("CHECK", _command(step, placeholders), {"title": step.text, "shell": step.shell})


def _fact_text(branch: Branch, value: str) -> str | None:
    if not branch.promote:
        return None
    clean = defuse_markers(re.sub(r"\s+", " ", value).strip())
    if len(clean) > 120:
        clean = clean[:119].rstrip() + "…"
    return branch.promote.replace("{value}", clean)


def _known_facts(facts: Any) -> list[str]:
    out: list[str] = []
    for fact in facts or []:
        text = fact.get("text") if isinstance(fact, Mapping) else getattr(fact, "text", fact)
        if text:
            out.append(_norm(str(text)))
    return out


def _hint(step: Step, hedged: bool) -> str:
    yes_no_step = any(b.when.answer is not None for b in step.branches)
    if step.kind == "check":
        hint = "Run the check and paste its output here (or into the task lane) and I'll read it."
    elif yes_no_step:
        hint = "A plain yes or no is enough."
    else:
        hint = "Tell me what you see, as exactly as you can."
    if hedged:
        return "No problem if you're not sure yet. " + hint
    return hint


def _fix_body(conclusion: Conclusion) -> str:
    lines = [f"{n}. {text}" for n, text in enumerate(conclusion.fix_steps, start=1)]
    if conclusion.script is not None:
        params = ", ".join(p.name + (" (sensitive)" if p.sensitive else "") for p in conclusion.script.parameters)
        lines.append(f"Script: {conclusion.script.name}" + (f" (parameters: {params})" if params else ""))
    return "\n".join(lines)


_WORKED_RE = re.compile(
    r"\b(?:fixed|works? now|working now|working again|resolved|sorted|that did it|all good|"
    r"printing again|back up|connected now|it worked)\b",
    re.I,
)
_FAILED_RE = re.compile(
    r"\b(?:still (?:not|broken|the same|failing|doesn'?t|can'?t|won'?t)|didn'?t (?:work|help|fix)|"
    r"no change|same problem|not fixed)\b",
    re.I,
)


def _already_suggested(conclusion: Conclusion, conversation: list[tuple[str, str]]) -> bool:
    return any(role == "assistant" and conclusion.title in text for role, text in conversation[:-1])


def _ticket_line(ticket: Mapping[str, Any]) -> str:
    summary = re.sub(r"\s+", " ", str(ticket.get("summary") or ticket.get("problem_statement") or "")).strip()
    if not summary:
        return ""
    if len(summary) > 100:
        summary = summary[:99].rstrip() + "…"
    company = re.sub(r"\s+", " ", str(ticket.get("company") or "")).strip()
    where = f" ({defuse_markers(company)})" if company else ""
    return f'Ticket: "{defuse_markers(summary)}"{where}.'


def _active_playbook(
    library: PlaybookLibrary, conversation: list[tuple[str, str]], items: list[_LaneItem], summary: str, body: str
) -> tuple[Playbook, bool]:
    """The playbook in play and whether it was already in play before this turn."""
    everything = (library.triage, *library.playbooks)
    for role, text in reversed(conversation):
        if role != "assistant":
            continue
        for playbook in everything:
            if any(_asked_in(step, text) for step in playbook.steps):
                return playbook, True
    for item in reversed(items):
        for playbook in everything:
            if any(step.kind == item.kind and _norm(step.text) in _norm(item.text) for step in playbook.steps):
                return playbook, True
    found = find_playbook(body, summary=summary, library=library)
    return (found or library.triage), False


def reply(
    *,
    ticket: Mapping[str, Any] | None = None,
    facts: Sequence[Any] | None = None,
    task_lane: Sequence[Any] | None = None,
    history: Sequence[Any] = (),
    request: str = "",
    library: PlaybookLibrary | None = None,
) -> str:
    """The offline assistant's next chat message, in the marker grammar."""
    library = library or load_playbooks()
    ticket = ticket or {}
    conversation = [_role_content(m) for m in history]
    if request.strip():
        conversation.append(("user", request))
    items = _lane_items(task_lane)
    known = _known_facts(facts)
    placeholders = _placeholders(ticket)

    # A session may start from a typed problem statement instead of (or as well as) a PSA ticket.
    summary = str(ticket.get("summary") or ticket.get("problem_statement") or "")
    user_text = "\n".join(text for role, text in conversation if role == "user")
    body = "\n".join([str(ticket.get("description") or ""), str(ticket.get("problem_statement") or ""), user_text])
    playbook, continuing = _active_playbook(library, conversation, items, summary, body)

    parts: list[str] = []
    switched_from_triage = False
    if playbook.id == library.triage.id and continuing:
        # Triage answers may name the problem: hand over to the real playbook, keeping
        # whatever the last triage answer confirmed.
        recognised = find_playbook(body, summary=summary, library=library)
        if recognised is not None:
            triage_walk = _walk(playbook, conversation, items, request)
            parts.extend(_acknowledge(triage_walk, known))
            playbook, continuing, switched_from_triage = recognised, False, True

    walk = _walk(playbook, conversation, items, request)
    if not switched_from_triage:
        parts.extend(_acknowledge(walk, known))

    if not continuing:
        line = _ticket_line(ticket)
        if playbook.id == library.triage.id:
            parts.insert(0, " ".join(x for x in (line, playbook.intro) if x))
        else:
            lead = "That sounds like" if switched_from_triage else "This looks like"
            parts.insert(0, " ".join(x for x in (line, f"{lead}: {playbook.title}.", playbook.intro) if x))

    if walk.conclusion is not None:
        parts.extend(_conclusion_parts(walk, conversation, request, known))
    elif walk.exhausted:
        parts.extend(_exhausted_parts(playbook, known))
    elif walk.stop is not None:
        step = walk.stop
        if walk.unclear is not None:
            hedged = is_uncertain(walk.unclear)
            parts.append(
                f"I couldn't read a clear answer to \"{step.text}\" from that, so I haven't recorded "
                f"anything yet. {_hint(step, hedged)}"
            )
        elif walk.stop_asked and continuing:
            parts.append(f'We are waiting on "{step.text}". {_hint(step, False)}')
        else:
            parts.append("\n".join(x for x in (step.why, _ask(step, placeholders)) if x))
    return "\n\n".join(p for p in parts if p).strip() + "\n"


def _acknowledge(walk: _Walk, known: list[str]) -> list[str]:
    """What the new message established: the branch's remark, then PROMOTE markers.

    Only facts confirmed by the new message are promoted (earlier answers were promoted
    on their own turn), and never a fact What We Know already holds.
    """
    out: list[str] = []
    last = walk.taken[-1] if walk.taken else None
    if last is not None and last.from_request and last.branch.say:
        out.append(last.branch.say)
    for taken in walk.taken:
        if not taken.from_request:
            continue
        fact = _fact_text(taken.branch, taken.value)
        if fact is None or _norm(fact) in known:
            continue
        known.append(_norm(fact))
        out.append(render_marker("PROMOTE", fact, {"ref": taken.item_id}))
    return out


def _conclusion_parts(walk: _Walk, conversation: list[tuple[str, str]], request: str, known: list[str]) -> list[str]:
    conclusion = walk.conclusion
    assert conclusion is not None
    if _already_suggested(conclusion, conversation):
        if _FAILED_RE.search(request):
            return [
                "Understood: the fix did not solve it, so the usual causes are exhausted offline.",
                render_marker(
                    "ACTION",
                    "Escalate with the confirmed facts and what was tried "
                    f"({conclusion.title}); include any new error text.",
                ),
            ]
        if _WORKED_RE.search(request) and not is_uncertain(request):
            fact = f'Applying the fix "{conclusion.title}" resolved the issue.'
            promote = [] if _norm(fact) in known else [render_marker("PROMOTE", fact)]
            return [*promote, "Great. Use Resolve to review and post the resolution note."]
        return [f'The suggested fix is "{conclusion.title}". Tell me whether it worked once you have tried it.']
    parts = [f"That points to the root cause: {conclusion.root_cause}"]
    parts.append(
        render_marker(
            "SUGGEST_FIX", _fix_body(conclusion), {"title": conclusion.title, "root_cause": conclusion.root_cause}
        )
    )
    parts.append(render_marker("ACTION", conclusion.verify))
    return [p for p in parts if p]


def _exhausted_parts(playbook: Playbook, known: list[str]) -> list[str]:
    return [
        f"That's as far as the offline {playbook.title.lower()} steps go without a clear cause. "
        f"What We Know has {len(known)} confirmed fact(s) to hand over.",
        render_marker(
            "ACTION",
            "Escalate to the next line with the confirmed facts, the exact error text and what was tried so far.",
        ),
    ]
