"""Account settings (lazy ``account_settings`` row) and account MCP servers."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from flowpilot_core.accounts import mcp, preferences
from flowpilot_server.deps import Ctx, require_api_key


class SettingsController(Controller):
    path = "/api/v1/account"
    tags = ["account"]

    @get("/settings", operation_id="getAccountSettings", summary="The account's settings with defaults applied")
    async def read(self, ctx: Ctx) -> preferences.AccountSettingsOut:
        return await preferences.read_settings(ctx.db, ctx.principal.account_id)

    @patch("/settings", operation_id="updateAccountSettings", summary="Change some account settings")
    async def update(
        self, ctx: Ctx, data: JSONBody[preferences.AccountSettingsPatch]
    ) -> preferences.AccountSettingsOut:
        return await preferences.update_settings(ctx.db, ctx.principal, data, ctx.runtime.ai.policy)

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
