"""Account settings (lazy ``account_settings`` row) and account MCP servers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from flowpilot_core.accounts import mcp
from flowpilot_core.accounts.settings import get_setting, set_setting
from flowpilot_core.errors import Forbidden, InvalidInput
from flowpilot_core.tickets.intake import TicketTaxonomy
from flowpilot_server.deps import Ctx, require_api_key


class AccountSettingsOut(msgspec.Struct):
    templatize_prompt_enabled: bool
    auto_continue_enabled: bool
    """After the technician answers the last reply's questions and checks in the lane, the conversation moves on."""
    ticket_taxonomy: TicketTaxonomy
    ai: dict[str, Any]


class AccountSettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the keys present are changed. ``ticket_taxonomy`` and ``ai`` need an API key."""

    templatize_prompt_enabled: bool | None = None
    auto_continue_enabled: bool | None = None
    ticket_taxonomy: TicketTaxonomy | None = None
    ai: dict[str, Any] | None = None


async def _read(ctx: Any) -> AccountSettingsOut:
    account_id = ctx.principal.account_id
    taxonomy = await get_setting(ctx.db, account_id, "ticket_taxonomy", {})
    return AccountSettingsOut(
        templatize_prompt_enabled=bool(await get_setting(ctx.db, account_id, "templatize_prompt_enabled")),
        auto_continue_enabled=bool(await get_setting(ctx.db, account_id, "auto_continue_enabled")),
        ticket_taxonomy=msgspec.convert(taxonomy or {}, TicketTaxonomy),
        ai=dict(await get_setting(ctx.db, account_id, "ai", {}) or {}),
    )


class SettingsController(Controller):
    path = "/api/v1/account"
    tags = ["account"]

    @get("/settings", operation_id="getAccountSettings", summary="The account's settings with defaults applied")
    async def read(self, ctx: Ctx) -> AccountSettingsOut:
        return await _read(ctx)

    @patch("/settings", operation_id="updateAccountSettings", summary="Change some account settings")
    async def update(self, ctx: Ctx, data: JSONBody[AccountSettingsPatch]) -> AccountSettingsOut:
        account_id = ctx.principal.account_id
        if (data.ticket_taxonomy is not None or data.ai is not None) and ctx.principal.via != "api_key":
            raise Forbidden("ticket_taxonomy and ai settings are changed with an API key (an administrator's)")
        if data.ai is not None:
            try:
                ctx.runtime.ai.policy.with_overrides(data.ai)
            except ValueError as exc:
                raise InvalidInput(str(exc), field="ai") from None
            await set_setting(ctx.db, account_id, "ai", data.ai)
        if data.templatize_prompt_enabled is not None:
            await set_setting(ctx.db, account_id, "templatize_prompt_enabled", data.templatize_prompt_enabled)
        if data.auto_continue_enabled is not None:
            await set_setting(ctx.db, account_id, "auto_continue_enabled", data.auto_continue_enabled)
        if data.ticket_taxonomy is not None:
            await set_setting(ctx.db, account_id, "ticket_taxonomy", msgspec.to_builtins(data.ticket_taxonomy))
        return await _read(ctx)

    @get("/mcp-servers", operation_id="listMcpServers", summary="The account's MCP servers (credentials hidden)")
    async def list_mcp(self, ctx: Ctx) -> list[mcp.McpServerOut]:
        return await mcp.list_servers(ctx.db, ctx.principal.account_id)

    @post("/mcp-servers", operation_id="createMcpServer", status_code=201, summary="Add an MCP server; API key only")
    async def create_mcp(self, ctx: Ctx, data: JSONBody[mcp.CreateMcpServer]) -> mcp.McpServerOut:
        require_api_key(ctx)
        return await mcp.create_server(ctx.db, ctx.principal.account_id, data, ctx.runtime.secret_key)

    @delete("/mcp-servers/{server_id:uuid}", operation_id="deleteMcpServer", summary="Remove an MCP server")
    async def delete_mcp(self, ctx: Ctx, server_id: Annotated[uuid.UUID, PathParameter(title="MCP server id")]) -> None:
        require_api_key(ctx)
        await mcp.delete_server(ctx.db, ctx.principal.account_id, server_id)
