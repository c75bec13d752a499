"""Scripts: the library (``/api/v1/script-templates``), draft templates, and the session's script generator."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, Parameter, PathParameter

from flowpilot_core import scripts
from flowpilot_core.scripts import drafts, lookup
from flowpilot_core.scripts.generations import GenerateFromTemplate, GenerationOut
from flowpilot_server.deps import CallerDep, Ctx

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
FixId = Annotated[uuid.UUID, PathParameter(title="Suggested fix id")]
TemplateId = Annotated[uuid.UUID, PathParameter(title="Script template id")]
DraftId = Annotated[uuid.UUID, PathParameter(title="Draft template id")]


class ExtractRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /api/v1/script-templates/extract``: a concrete script to turn into a template."""

    script: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
    language: scripts.Language = "powershell"


class ScriptTemplatesController(Controller):
    path = "/api/v1/script-templates"
    tags = ["scripts"]

    @get("", operation_id="listScriptTemplates", summary="The account's script templates and its pending-drafts count")
    async def list_templates(
        self,
        ctx: Ctx,
        q: Annotated[
            str | None, Parameter(description="words to find in name, description, tags or body", max_length=200)
        ] = None,
    ) -> scripts.TemplateList:
        return await scripts.list_templates(ctx.db, ctx.principal, q)

    @post("", operation_id="createScriptTemplate", status_code=201, summary="Create a template (validated first)")
    async def create(self, ctx: Ctx, data: JSONBody[scripts.TemplateIn]) -> scripts.TemplateOut:
        return await scripts.create_template(ctx.db, ctx.principal, data)

    @post(
        "/extract",
        operation_id="extractScriptTemplate",
        status_code=200,
        summary="Propose a parameter schema and a templated body for a concrete script (nothing is stored)",
    )
    async def extract(self, caller: CallerDep, data: JSONBody[ExtractRequest]) -> scripts.ExtractionResult:
        service = scripts.ScriptService(caller.runtime.sessionmaker, caller.runtime.ai)
        return await service.extract(caller.principal, data.script, data.language)

    @get("/{template_id:uuid}", operation_id="getScriptTemplate", summary="One template with its provenance")
    async def get_template(self, ctx: Ctx, template_id: TemplateId) -> scripts.TemplateOut:
        return await scripts.get_template(ctx.db, ctx.principal, template_id)

    @patch("/{template_id:uuid}", operation_id="updateScriptTemplate", summary="Change some fields of a template")
    async def update(
        self, ctx: Ctx, template_id: TemplateId, data: JSONBody[scripts.TemplatePatch]
    ) -> scripts.TemplateOut:
        return await scripts.update_template(ctx.db, ctx.principal, template_id, data)

    @delete("/{template_id:uuid}", operation_id="deleteScriptTemplate", summary="Delete a template")
    async def delete_template(self, ctx: Ctx, template_id: TemplateId) -> None:
        await scripts.delete_template(ctx.db, ctx.principal, template_id)


class DraftTemplatesController(Controller):
    path = "/api/v1/draft-templates"
    tags = ["scripts"]

    @get("", operation_id="listDraftTemplates", summary="The account's draft templates (and how many are pending)")
    async def list_drafts(
        self,
        ctx: Ctx,
        status: Annotated[drafts.DraftStatus | None, Parameter(description="pending, accepted or rejected")] = None,
    ) -> scripts.DraftList:
        return await scripts.list_drafts(ctx.db, ctx.principal, status)

    @get("/{draft_id:uuid}", operation_id="getDraftTemplate", summary="One draft template")
    async def get_draft(self, ctx: Ctx, draft_id: DraftId) -> scripts.DraftOut:
        return await scripts.get_draft(ctx.db, ctx.principal, draft_id)

    @post(
        "/{draft_id:uuid}/accept",
        operation_id="acceptDraftTemplate",
        status_code=201,
        summary="Save the draft as a real template (with the technician's edits and the session as provenance)",
    )
    async def accept(self, ctx: Ctx, draft_id: DraftId, data: JSONBody[scripts.AcceptDraft]) -> scripts.TemplateOut:
        return await scripts.accept_draft(ctx.db, ctx.principal, draft_id, data)

    @post(
        "/{draft_id:uuid}/skip",
        operation_id="skipDraftTemplate",
        status_code=200,
        summary="Reject the draft; `dont_ask_again` also turns the templatize prompt off for the account",
    )
    async def skip(self, ctx: Ctx, draft_id: DraftId, data: JSONBody[scripts.SkipDraft]) -> scripts.DraftOut:
        return await scripts.skip_draft(ctx.db, ctx.principal, draft_id, data)


class SessionScriptsController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}"
    tags = ["scripts"]

    @get(
        "/suggested-fixes/{fix_id:uuid}/template-matches",
        operation_id="matchScriptTemplates",
        summary="The account's templates that fit the fix, best first, with each matcher's reasons",
    )
    async def matches(self, ctx: Ctx, session_id: SessionId, fix_id: FixId) -> lookup.TemplateMatches:
        return await lookup.match_templates(
            ctx.db, ctx.principal, session_id, fix_id, ctx.runtime.plugins.template_matchers
        )

    @post(
        "/suggested-fixes/{fix_id:uuid}/no-template",
        operation_id="chooseNoTemplateOption",
        status_code=200,
        summary="No template fits: run as one-off, run now and templatize after resolve, or build a template now",
        description=(
            "Records the decision on the active fix (as `POST .../decision` does) together with its side effects: "
            "`one_off` stores the model's script as a generation; `draft_template` also stores a pending draft "
            "template extracted from it; `build_template` returns the extraction for the template editor and stores "
            "nothing else. A superseded fix is a 409."
        ),
    )
    async def no_template(
        self, caller: CallerDep, session_id: SessionId, fix_id: FixId, data: JSONBody[scripts.NoTemplateChoice]
    ) -> scripts.NoTemplateOutcome:
        service = scripts.ScriptService(caller.runtime.sessionmaker, caller.runtime.ai)
        return await service.choose_no_template(caller.principal, session_id, fix_id, data)

    @get(
        "/script-templates/{template_id:uuid}/prefill",
        operation_id="prefillScriptTemplate",
        summary="The template's parameters prefilled from the session's facts, ticket, account and PSA, with sources",
    )
    async def prefill(
        self,
        caller: CallerDep,
        session_id: SessionId,
        template_id: TemplateId,
        suggest: Annotated[
            bool, Parameter(description="also ask the model about parameters still empty (source kind `ai`)")
        ] = False,
    ) -> scripts.Prefill:
        service = scripts.ScriptService(caller.runtime.sessionmaker, caller.runtime.ai)
        return await service.prefill(caller.principal, session_id, template_id, suggest=suggest)

    @post(
        "/script-generations",
        operation_id="generateScript",
        status_code=201,
        summary="Render a template with the technician's values and record the generation",
        description=(
            "Values are checked first (a 422 names `parameters.<name>`), then every value is quoted for the "
            "template's language. The response carries the script in clear once; what is stored, and read back, "
            "has each sensitive value replaced by `[redacted]`."
        ),
    )
    async def generate(self, ctx: Ctx, session_id: SessionId, data: JSONBody[GenerateFromTemplate]) -> GenerationOut:
        return await scripts.generate_from_template(ctx.db, ctx.principal, session_id, data)

    @get(
        "/script-generations",
        operation_id="listScriptGenerations",
        summary="The session's scripts (redacted), oldest first",
    )
    async def list_generations(self, ctx: Ctx, session_id: SessionId) -> list[GenerationOut]:
        return await scripts.list_generations(ctx.db, ctx.principal, session_id)

    @get(
        "/templatize-prompt",
        operation_id="getTemplatizePrompt",
        summary="Whether to offer saving the session's drafts as templates now, and why",
    )
    async def templatize_prompt(self, ctx: Ctx, session_id: SessionId) -> scripts.TemplatizePrompt:
        return await scripts.templatize_prompt(ctx.db, ctx.principal, session_id)
