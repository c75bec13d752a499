"""Resolution note and escalation package previews: deterministic, every line sourced, cached by state.

The deterministic preview is the source of truth for what FlowPilot would post. It is
cached by ``(session_id, state_version, lane digest, kind, template fingerprint,
redactor fingerprint)``: ``state_version`` moves with every write to facts and fixes,
the lane digest with check and action outcomes (which a preview shows but which are
not ``state_version`` writes). The cache is in-process (an LRU per server process);
every process computes the same preview from the same rows, so a replica never serves
another's stale copy for a newer state. The cache is in-process by default and Redis
(shared by every replica) when ``FLOWPILOT_REDIS_URL`` is set.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

import msgspec
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal
from flowpilot_core.ai.gateway import AIGateway
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession
from flowpilot_core.db.rows import Reader, fetch_one, static
from flowpilot_core.errors import NotFound
from flowpilot_core.previews.cache import InProcessCache, PreviewCache
from flowpilot_core.previews.render import PreviewLine, render, template_fingerprint
from flowpilot_core.previews.sources import PreviewSources, digest_of_lane, lane_digest, load_sources, read_session
from flowpilot_core.previews.wording import (
    RefusedLine,
    apply_wording,
    build_wording_call,
    content_lines,
    reassemble,
    source_texts,
)
from flowpilot_core.sessions.lifecycle import in_account, session_params

PreviewKind = Literal["resolution_note", "escalation_package"]
KINDS: tuple[PreviewKind, ...] = ("resolution_note", "escalation_package")
NO_REDACTORS = "none"


class Preview(msgspec.Struct):
    kind: PreviewKind
    session_id: uuid.UUID
    state_version: int
    markdown: str
    lines: list[PreviewLine]
    """Every non-blank line of ``markdown`` with the rows it came from."""
    etag: str


def _context(sources: PreviewSources) -> dict[str, Any]:
    """Plain data for the sandboxed template: no ORM object reaches it."""
    session = sources.session
    lane = sources.lane

    def fix(row: Any) -> dict[str, Any] | None:
        if row is None:
            return None
        keys = ("title", "root_cause", "body", "user_decision")
        return {"id": str(row.id), **{k: getattr(row, k) for k in keys}}

    def items(kind: str, done: bool) -> list[dict[str, Any]]:
        wanted = ("answered", "done") if done else ("open",)
        return [msgspec.to_builtins(i) for i in lane.items() if i.kind == kind and i.status in wanted]

    return {
        "session": {"id": str(session.id), "problem_statement": session.problem_statement, "title": session.title},
        "scripts": [script_line(g) for g in sources.scripts],
        "ticket": {"summary": (session.ticket_snapshot or {}).get("summary")},
        "facts": [{"id": str(f.id), "text": f.text} for f in sources.facts],
        "fix": fix(sources.active_fix),
        "earlier_fixes": [fix(f) for f in sources.earlier_fixes],
        "done_checks": items("check", True),
        "done_actions": items("action", True),
        "open_questions": items("question", False),
        "open_checks": items("check", False),
    }


def script_line(generation: Any) -> dict[str, str]:
    """A stored generation as the Resolution section names it: its values are the stored (redacted) ones."""
    values = (generation.parameters or {}).get("values") or {}
    shown = ", ".join(f"{name}={value}" for name, value in values.items())
    return {"id": str(generation.id), "name": generation.name, "language": generation.language, "values": shown}


_PREVIEW_STATE = static(select(AiSession.state_version, AiSession.pending_task_lane).where(in_account()))
"""What a preview's cache key depends on, of the session's row."""


class PreviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = Counter(
            "flowpilot_preview_cache", "Preview cache lookups by kind and result", ("kind", "result"), registry=registry
        )


class PreviewService:
    """Builds previews from stored rows and keeps them in a :class:`PreviewCache` (in-process or Redis)."""

    def __init__(self, metrics: PreviewMetrics | None = None, *, cache: PreviewCache | None = None) -> None:
        self.metrics = metrics
        self.cache: PreviewCache = cache or InProcessCache()

    def _key(self, kind: PreviewKind, session_id: uuid.UUID, state_version: int, digest: str) -> str:
        parts = (str(session_id), str(state_version), digest, kind, template_fingerprint(kind), NO_REDACTORS)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    async def preview(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID, kind: PreviewKind
    ) -> Preview:
        _, encoded = await self.preview_json(db, principal, session_id, kind)
        return msgspec.json.decode(encoded, type=Preview)

    async def preview_json(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID, kind: PreviewKind
    ) -> tuple[str, bytes]:
        """The preview's ETag and its JSON, as cached: a warm preview is sent without decoding it again."""
        session = await read_session(db, principal, session_id)
        key = self._key(kind, session.id, session.state_version, lane_digest(session))
        cached = await self.cached_json(key, kind)
        if cached is not None:
            return f'"{key}"', cached
        return await self.build_json(db, principal, session_id, kind)

    async def current_key(self, db: Reader, principal: Principal, session_id: uuid.UUID, kind: PreviewKind) -> str:
        """The cache key of the session's preview as it stands (its ETag is the key in quotes), from one Core
        read: whether a preview the caller holds is current needs neither the cache nor a render."""
        row = await fetch_one(db, _PREVIEW_STATE, session_params(principal, session_id))
        if row is None:
            raise NotFound(f"session {session_id} not found")
        return self._key(kind, session_id, row["state_version"], digest_of_lane(row["pending_task_lane"]))

    async def cached_json(self, key: str, kind: PreviewKind) -> bytes | None:
        """The cached preview under ``key`` (counted as a hit or a miss)."""
        cached = await self.cache.get(key)
        self._count(kind, "miss" if cached is None else "hit")
        return cached

    async def build_json(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID, kind: PreviewKind
    ) -> tuple[str, bytes]:
        """Render the preview from the rows ``db`` sees and cache it: its ETag and its JSON."""
        session = await read_session(db, principal, session_id)
        key = self._key(kind, session.id, session.state_version, lane_digest(session))
        etag = f'"{key}"'
        markdown, lines = render(kind, _context(await load_sources(db, session)))
        built = Preview(
            kind=kind,
            session_id=session.id,
            state_version=session.state_version,
            markdown=markdown,
            lines=lines,
            etag=etag,
        )
        encoded = msgspec.json.encode(built)
        await self.cache.put(key, encoded)
        return etag, encoded

    def _count(self, kind: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.lookups.labels(kind, result).inc()


class WordedPreview(msgspec.Struct):
    """A preview after the optional AI wording pass: the same lines and sources, some lines reworded."""

    kind: PreviewKind
    session_id: uuid.UUID
    state_version: int
    markdown: str
    lines: list[PreviewLine]
    reworded: list[int]
    """Numbers of the lines the model's wording replaced."""
    refused: list[RefusedLine]
    """Lines whose rewrite added something their sources do not say: they keep the deterministic text."""
    etag: str
    """The ETag of the deterministic preview this wording was made from."""


def _row_texts(sources: PreviewSources) -> dict[tuple[str, str], list[str]]:
    """What each row a line can name says: the corpus a reworded line's literals must come from."""
    session = sources.session
    texts: dict[tuple[str, str], list[str]] = {
        ("session", str(session.id)): [session.problem_statement, session.title],
        ("ticket", str(session.id)): [str(v) for v in (session.ticket_snapshot or {}).values() if v],
    }
    for fact in sources.facts:
        texts[("fact", str(fact.id))] = [fact.text]
    for fix in [sources.active_fix, *sources.earlier_fixes]:
        if fix is not None:
            texts[("fix", str(fix.id))] = [fix.title, fix.root_cause or "", fix.body]
    for script in sources.scripts:
        line = script_line(script)
        texts[("script", line["id"])] = [line["name"], line["language"], line["values"]]
    for item in sources.lane.items():
        texts[("item", item.id)] = [item.text, item.command or "", item.answer or "", item.output or ""]
    return texts


class WordingService:
    """ "Improve wording": the model rephrases a preview's lines; the literal check decides what is kept."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], previews: PreviewService, ai: AIGateway) -> None:
        self.sessionmaker = sessionmaker
        self.previews = previews
        self.ai = ai

    async def improve(self, principal: Principal, session_id: uuid.UUID, kind: PreviewKind) -> WordedPreview:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            preview = await self.previews.preview(db, principal, session_id, kind)
            sources = await load_sources(db, await read_session(db, principal, session_id))
            bound = await self.ai.bind(db, principal.account_id)
        content = content_lines(preview.lines)
        spec = build_wording_call(kind, content, account_id=str(principal.account_id), session_id=str(session_id))
        completion = await bound.call(spec)
        worded, reworded, refused = apply_wording(content, completion.text, source_texts(content, _row_texts(sources)))
        by_number = {line.number: line for line in worded}
        lines = [by_number.get(line.number, line) for line in preview.lines]
        return WordedPreview(
            kind=kind,
            session_id=preview.session_id,
            state_version=preview.state_version,
            markdown=reassemble(preview.markdown, lines),
            lines=lines,
            reworded=reworded,
            refused=refused,
            etag=preview.etag,
        )
