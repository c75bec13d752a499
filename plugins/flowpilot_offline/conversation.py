"""The offline model's chat turn: read the session, walk the playbook, answer in markers.

A reply is a pure function of the chat call (ticket, facts, task lane, history, the new
message): no randomness, no clock, no set iteration, so the same session gets the same
reply in any process.

How a turn is computed:

1. **Which playbook.** The one whose step or fix the assistant last put forward (read back
   from the history) stays in play. Otherwise the ticket and what the technician wrote are
   scored against each playbook's clue words (``playbooks.json``); nothing recognised →
   general triage, which hands over as soon as the answers name a problem.
2. **Where we are.** From the first step on, a step is settled by its task-lane item (an
   answered question or a check's recorded output) or, without asking, by the ticket,
   What We Know or the technician's own words already stating the answer (the branch's
   ``stated`` patterns). A chat message never answers a lane item: the lane is where
   answers are recorded, so What We Know and the lane cannot disagree.
3. **The reply.** The next unsettled step is asked as a ``[QUESTION]`` or ``[CHECK]``; a
   conclusion (or a clue pointing at one) is proposed with ``[SUGGEST_FIX]`` and an
   ``[ACTION]`` to verify it; a failed fix moves to the conclusion's ``fallback`` or to
   escalation, and stays there. A message the model cannot use gets a specific prompt that
   changes each time (quick answers, the question rephrased, then plainly what the offline
   model can and cannot do), so no reply is sent twice in a row.

The model never emits ``[PROMOTE]``: facts come from lane answers and check outputs through
fact synthesis. Text quoted from the ticket or the technician passes through
``defuse_markers``, so user text never becomes a marker.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from flowpilot_core.markers import (
    CheckMarker,
    QuestionMarker,
    SuggestFixMarker,
    default_parsers,
    defuse_markers,
    parse_assistant_output,
    render_marker,
)
from flowpilot_offline.playbooks import (
    Branch,
    Conclusion,
    Playbook,
    PlaybookLibrary,
    Step,
    choose_branch,
    find_playbook,
    load_playbooks,
)
from flowpilot_offline.ticket_parse import extract_emails, find_devices

__all__ = ["ESCALATION", "OFFLINE_NOTICE", "reply"]

OFFLINE_NOTICE = (
    "I'm FlowPilot's offline demo model: I follow built-in troubleshooting playbooks, deterministically and "
    "without a network. To work with Claude instead, set `ANTHROPIC_API_KEY` and restart FlowPilot."
)
ESCALATION = "Escalate to the next line with What We Know, the exact error text and what was tried so far."
CAPABILITIES = (
    "Offline I can only follow this playbook: I read the answers and check outputs recorded in the task lane, "
    "and whether a suggested fix worked. I can't read free-text descriptions or answer open questions; "
    "connect Claude (`ANTHROPIC_API_KEY`) for that."
)

_PARSERS = default_parsers()  # our own replies are assistant output: reading them back is legitimate
_DONE = ("answered", "done")
_ACK_RE = re.compile(
    r"^(?:ok(?:ay)?|k|thanks?(?: you)?|cheers|sure|will do|got it|noted|right|fine|great)[.! ]*$", re.I
)
_WORKED_RE = re.compile(
    r"\b(?:fixed|works? now|working now|working again|resolved|sorted|that did it|it worked|that worked|solved)\b", re.I
)
_FAILED_RE = re.compile(
    r"\b(?:still|didn'?t (?:work|help|fix)|did not (?:work|help|fix)|doesn'?t work|no change|no difference|"
    r"same (?:problem|issue|error)|not fixed|no luck|failed)\b",
    re.I,
)


# ---------------------------------------------------------------------------------------
# Reading the session
# ---------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower().rstrip("?.!: ")


def _quote(text: str) -> str:
    return "\u201c" + defuse_markers(re.sub(r"\s+", " ", text).strip()) + "\u201d"


class LaneItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    text: str
    status: str
    said: str  # the answer, the check's output or what happened when the action was done


def _lane_items(task_lane: Any) -> list[LaneItem]:
    items = []
    for raw in task_lane or []:
        if not isinstance(raw, Mapping):
            continue
        said = raw.get("answer") if raw.get("answer") is not None else raw.get("output")
        items.append(
            LaneItem(
                id=str(raw.get("id") or ""),
                kind=str(raw.get("kind") or ""),
                text=str(raw.get("text") or raw.get("title") or ""),
                status=str(raw.get("status") or "").lower(),
                said=str(said or ""),
            )
        )
    return items


class Session(msgspec.Struct, kw_only=True):
    """What one chat call tells the model about the session."""

    ticket: Mapping[str, Any]
    ticket_text: str
    facts: list[str]
    items: list[LaneItem]
    assistant: list[str]  # earlier assistant replies, oldest first (raw markers or display text)
    technician: list[str]  # the technician's messages, the new one last
    request: str

    @property
    def everything(self) -> str:
        """All the text the problem may be stated in: ticket, facts, messages, lane answers."""
        answers = [i.said for i in self.items if i.status in _DONE]
        return "\n".join([self.ticket_text, *self.facts, *self.technician, *answers])

    @property
    def last_reply(self) -> str:
        return self.assistant[-1] if self.assistant else ""


def _session(
    ticket: Mapping[str, Any], facts: Sequence[Any], task_lane: Sequence[Any], history: Sequence[Any], request: str
) -> Session:
    assistant: list[str] = []
    technician: list[str] = []
    for message in history:
        if isinstance(message, Mapping):
            role, content = str(message.get("role", "")), str(message.get("content", ""))
        else:
            role, content = str(getattr(message, "role", "")), str(getattr(message, "content", ""))
        (assistant if role == "assistant" else technician).append(content)
    if request.strip():
        technician.append(request)
    fact_texts = []
    for fact in facts or []:
        text = fact.get("text") if isinstance(fact, Mapping) else getattr(fact, "text", fact)
        if text:
            fact_texts.append(str(text))
    ticket_text = "\n".join(str(ticket.get(k) or "") for k in ("summary", "description", "problem_statement"))
    return Session(
        ticket=ticket,
        ticket_text=ticket_text,
        facts=fact_texts,
        items=_lane_items(task_lane),
        assistant=assistant,
        technician=technician,
        request=request,
    )


@functools.lru_cache(maxsize=512)
def _markers_in(message: str) -> tuple[Any, ...]:
    return tuple(parse_assistant_output(message, _PARSERS).markers)


def _asked_in(step: Step, message: str) -> bool:
    """Did this assistant message ask ``step`` (raw markers, or the display text the chat shows)?"""
    markers = _markers_in(message)
    for marker in markers:
        if isinstance(marker, QuestionMarker) and step.kind == "question" and _norm(marker.text) == _norm(step.text):
            return True
        if isinstance(marker, CheckMarker) and step.kind == "check" and _norm(marker.title) == _norm(step.text):
            return True
    if markers:
        return False
    text = _norm(message)
    return (f"check: {_norm(step.text)}" if step.kind == "check" else _norm(step.text)) in text


def _suggested_titles(message: str) -> list[str]:
    titles = [m.title for m in _markers_in(message) if isinstance(m, SuggestFixMarker)]
    return titles or re.findall(r"Suggested fix: (.+)", message)


def _item_for(step: Step, items: list[LaneItem]) -> LaneItem | None:
    """The task-lane item for ``step`` (same kind and text), if it was asked."""
    wanted = _norm(step.text)
    return next((i for i in items if i.kind == step.kind and _norm(i.text) == wanted), None)


# ---------------------------------------------------------------------------------------
# The playbook in play
# ---------------------------------------------------------------------------------------


def _owner(library: PlaybookLibrary, message: str) -> Playbook | None:
    """The playbook whose step or fix this assistant message put forward."""
    titles = _suggested_titles(message)
    for playbook in (*library.playbooks, library.triage):
        if any(_asked_in(step, message) for step in playbook.steps):
            return playbook
        if any(c.title in titles for c in playbook.conclusions):
            return playbook
    return None


def _playbook_in_play(library: PlaybookLibrary, session: Session) -> tuple[Playbook, bool]:
    """The playbook for this turn and whether it is newly chosen (so the reply names it)."""
    for message in reversed(session.assistant):
        owner = _owner(library, message)
        if owner is not None:
            if owner.id == library.triage.id:
                recognised = _recognise(library, session)
                if recognised is not None:
                    return recognised, True
            return owner, False
    return _recognise(library, session) or library.triage, True


def _recognise(library: PlaybookLibrary, session: Session) -> Playbook | None:
    summary = str(session.ticket.get("summary") or session.ticket.get("problem_statement") or "")
    return find_playbook(session.everything, summary=summary, library=library)


# ---------------------------------------------------------------------------------------
# Walking the playbook
# ---------------------------------------------------------------------------------------

Source = Literal["lane", "ticket", "facts", "conversation"]


class Settled(msgspec.Struct, frozen=True, kw_only=True):
    step: Step
    branch: Branch
    source: Source


class Walk(msgspec.Struct, kw_only=True):
    settled: list[Settled]
    stop: Step | None = None  # the step that needs an answer now
    stop_item: LaneItem | None = None  # ...its lane item, if it was asked
    unreadable: bool = False  # ...answered in the lane, but the answer takes no branch
    conclusion: Conclusion | None = None
    exhausted: bool = False


def _stated(step: Step, session: Session) -> tuple[Branch, Source] | None:
    """The one branch the ticket, What We Know or the technician already states, if exactly one."""
    sources: tuple[tuple[Source, str], ...] = (
        ("ticket", session.ticket_text),
        ("facts", "\n".join(session.facts)),
        ("conversation", "\n".join(session.technician)),
    )
    facts = {_norm(f) for f in session.facts}
    found: list[tuple[Branch, Source]] = []
    for branch in step.branches:
        if branch.promote and _norm(branch.promote) in facts:
            found.append((branch, "facts"))
            continue
        for source, text in sources:
            if any(re.search(pattern, text, re.I) for pattern in branch.stated):
                found.append((branch, source))
                break
    targets = {(b.next, b.conclude) for b, _ in found}
    return found[0] if found and len(targets) == 1 else None


def _walk(playbook: Playbook, session: Session) -> Walk:
    walk = Walk(settled=[])
    step: Step | None = playbook.steps[0] if playbook.steps else None
    visited: set[str] = set()
    while step is not None and step.id not in visited:
        visited.add(step.id)
        item = _item_for(step, session.items)
        branch: Branch | None = None
        source: Source = "lane"
        if item is not None and item.status in _DONE and item.said.strip():
            picked = choose_branch(step, item.said)
            if picked is None:
                walk.stop, walk.stop_item, walk.unreadable = step, item, True
                return walk
            branch = picked[0]
        else:
            stated = _stated(step, session)
            if stated is None:
                walk.stop, walk.stop_item = step, item
                return walk
            branch, source = stated
        walk.settled.append(Settled(step=step, branch=branch, source=source))
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


def _ask(step: Step, placeholders: Mapping[str, str]) -> str:
    if step.kind == "question":
        return render_marker("QUESTION", step.text)
    command = step.command or ""
    for token, value in placeholders.items():
        command = command.replace(token, value)
    return render_marker("CHECK", command, {"title": step.text, "shell": step.shell})


def _fix_body(conclusion: Conclusion) -> str:
    lines = [f"{n}. {text}" for n, text in enumerate(conclusion.fix_steps, start=1)]
    if conclusion.script is not None:
        params = ", ".join(p.name + (" (sensitive)" if p.sensitive else "") for p in conclusion.script.parameters)
        lines.append(f"Script: {conclusion.script.name}" + (f" (parameters: {params})" if params else ""))
    return "\n".join(lines)


def _suggest(conclusion: Conclusion, lead: str) -> list[str]:
    return [
        f"{lead} {conclusion.root_cause}",
        render_marker(
            "SUGGEST_FIX", _fix_body(conclusion), {"title": conclusion.title, "root_cause": conclusion.root_cause}
        ),
        render_marker("ACTION", conclusion.verify),
    ]


def _how_to_answer(step: Step) -> str:
    if step.kind == "check":
        return "paste the command's output into it as it is"
    if any(b.when.answer is not None for b in step.branches):
        return "the Yes or No button is enough"
    return "type what you see there"


def _misses(step: Step, session: Session) -> int:
    """How many replies in a row were already prompts for ``step`` (they quote it)."""
    count = 0
    for message in reversed(session.assistant):
        if _quote(step.text) not in message:
            break
        count += 1
    return count


def _prompt(step: Step, item: LaneItem | None, walk: Walk, session: Session, level: int) -> str:
    """What to say when the new message does not move ``step`` on; ``level`` grows with each miss."""
    quoted, how = _quote(step.text), _how_to_answer(step)
    if walk.unreadable and item is not None and level == 0:
        return (
            f"I can't read {_quote(item.said[:120])} as an answer to {quoted}, so nothing was recorded from it. "
            f"Change the answer in the task lane: {how}."
        )
    if level == 0:
        message = session.request.strip()
        if _ACK_RE.match(message):
            return f"Thanks. When you have it, answer {quoted} in the task lane: {how}."
        if message.endswith("?"):
            return (
                f"The next step is {quoted}; what comes after depends on its answer. Answer it in the task lane: {how}."
            )
        return (
            "I read answers from the task lane, so nothing was recorded from that message. "
            f"Answer {quoted} there: {how}."
        )
    if level == 1:
        if step.rephrase:
            return f"{step.rephrase} That is {quoted} in the task lane: {how}."
        if step.kind == "check":
            return (
                f"The check to run next is {quoted}: copy its command from the task lane, run it on the affected "
                "PC and paste what it prints into the check."
            )
        return f"Put simply, {quoted} in the task lane is the question that decides the next step: {how}."
    if level % 2 == 0:
        return f"{CAPABILITIES} Waiting on {quoted}."
    return f"Still waiting on {quoted} in the task lane. {CAPABILITIES}"


def _feedback(text: str) -> Literal["worked", "failed"] | None:
    if _FAILED_RE.search(text):
        return "failed"
    if _WORKED_RE.search(text) and not re.search(r"\bnot (?:fixed|resolved|sorted|solved)\b", text, re.I):
        return "worked"
    return None


def _suggested(playbook: Playbook, session: Session) -> list[Conclusion]:
    """The conclusions already suggested in this conversation, in order."""
    titles = [t for message in session.assistant for t in _suggested_titles(message)]
    by_title = {c.title: c for c in playbook.conclusions}
    return [by_title[t] for t in titles if t in by_title]


def _unique(parts: list[str], session: Session, alternatives: Sequence[str]) -> list[str]:
    """``parts``, or the first alternative that makes the reply differ from the previous one."""
    for extra in ("", *alternatives):
        candidate = [*parts, extra] if extra else parts
        if _joined(candidate) != _joined([session.last_reply]):
            return candidate
    return [*parts, f"({len(session.assistant) + 1})"]


def _joined(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p).strip() + "\n"


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
    session = _session(ticket or {}, facts or [], task_lane or [], history, request)
    playbook, newly = _playbook_in_play(library, session)
    walk = _walk(playbook, session)
    parts: list[str] = []
    if not session.assistant:
        parts.append(OFFLINE_NOTICE)
    if newly:
        if playbook.id == library.triage.id:
            parts.append(playbook.intro)
        else:
            lead = "This looks like" if not session.assistant else "That sounds like"
            parts.append(f"{lead}: {playbook.title}. {playbook.intro}")
    parts.extend(_remarks(playbook, walk, session))
    parts.extend(_next(playbook, walk, session))
    return _joined(parts)


def _remarks(playbook: Playbook, walk: Walk, session: Session) -> list[str]:
    """What the ticket already answered (once) and what the latest lane answer showed (once)."""
    said = "\n".join(session.assistant)
    out = []
    for settled in walk.settled:
        if settled.source != "lane" and _quote(settled.step.text) not in said:
            where = {"ticket": "The ticket", "facts": "What We Know", "conversation": "What you wrote"}[settled.source]
            answer = f" ({settled.branch.when.answer})" if settled.branch.when.answer else ""
            out.append(f"{where} already answers {_quote(settled.step.text)}{answer}, so I won't ask it.")
    lane = [s for s in walk.settled if s.source == "lane"]
    if lane and lane[-1].branch.say and lane[-1].branch.say not in said:
        out.append(lane[-1].branch.say)
    for clue in playbook.clues:
        if re.search(clue.pattern, session.everything, re.I) and clue.say not in said:
            out.append(clue.say)
    return out


def _clue_conclusion(playbook: Playbook, session: Session) -> Conclusion | None:
    for clue in playbook.clues:
        if clue.conclude and re.search(clue.pattern, session.everything, re.I):
            return playbook.conclusion(clue.conclude)
    return None


def _next(playbook: Playbook, walk: Walk, session: Session) -> list[str]:
    """The reply's working part: a fix, its follow-up, an escalation, or the next step."""
    escalated = any(ESCALATION in message for message in session.assistant)
    if escalated:
        return _unique(
            [
                "This one is ready to hand over: escalate it with What We Know and what was tried. "
                "The offline playbook has nothing further to try."
            ],
            session,
            ["The escalation package collects What We Know and the steps tried; nothing new to try offline."],
        )
    suggested = _suggested(playbook, session)
    candidate = walk.conclusion or _clue_conclusion(playbook, session)
    if suggested:
        current = suggested[-1]
        verify_item = next(
            (i for i in session.items if i.kind == "action" and _norm(i.text) == _norm(current.verify)), None
        )
        outcome = _feedback(session.request) or (
            _feedback(verify_item.said) if verify_item and verify_item.said else None
        )
        if outcome == "worked":
            return _unique(
                [
                    f"Good: {_quote(current.title)} fixed it. "
                    "Use Resolve to draft the resolution note from What We Know."
                ],
                session,
                ["The fix is confirmed; Resolve turns What We Know into the resolution note."],
            )
        if outcome == "failed":
            fallback = playbook.conclusion(current.fallback) if current.fallback else None
            if fallback is not None and fallback not in suggested:
                return _suggest(fallback, f"{_quote(current.title)} did not fix it, so the next likely cause is:")
            return [
                f"{_quote(current.title)} did not fix it and the offline playbook has no further fix for this.",
                render_marker("ACTION", ESCALATION),
            ]
        if candidate is not None and candidate not in suggested:
            return _suggest(candidate, "That changes the picture. The likely root cause:")
        return _unique(
            [
                f"Waiting to hear whether {_quote(current.title)} worked: record what happened on "
                f"{_quote(current.verify)} in the task lane, or tell me it worked or didn't."
            ],
            session,
            [
                f"Once {_quote(current.title)} is tried, say whether it worked; "
                "if it didn't, I'll move to the next likely cause."
            ],
        )
    if candidate is not None:
        return _suggest(candidate, "That points to the root cause:")
    if walk.exhausted:
        return [
            f"That is as far as the offline {playbook.title[:1].lower() + playbook.title[1:]} steps go without a clear "
            f"cause. What We Know has {len(session.facts)} confirmed fact(s) to hand over.",
            render_marker("ACTION", ESCALATION),
        ]
    step = walk.stop
    assert step is not None
    if walk.stop_item is None:
        return ["\n".join(x for x in (step.why, _ask(step, _placeholders(session.ticket))) if x)]
    if walk.stop_item.status == "dismissed":
        return [
            f"{_quote(step.text)} was dismissed, and the rest of this playbook depends on its answer. "
            "Answer it after all, or hand the ticket over.",
            render_marker("ACTION", ESCALATION),
        ]
    level = _misses(step, session)
    prompt = _prompt(step, walk.stop_item, walk, session, level)
    if _joined([prompt]) == _joined([session.last_reply]):
        prompt = _prompt(step, walk.stop_item, walk, session, level + 1)
    return [prompt]
