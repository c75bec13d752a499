"""The account settings as the API shows and changes them: defaults applied, who may change what, validated.

Built on the preference keys of :mod:`flowpilot_core.accounts.settings`. Not re-exported from
``flowpilot_core.accounts`` because it depends on the ticket engine (``TicketTaxonomy``), which
itself reads settings.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.accounts.settings import get_setting, set_setting
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.errors import Forbidden, InvalidInput
from flowpilot_core.tickets.intake import TicketTaxonomy


class AccountSettingsOut(msgspec.Struct):
    templatize_prompt_enabled: bool
    auto_continue_enabled: bool
    """After the technician settles the last reply's questions and checks in the lane, the conversation moves on."""
    ticket_taxonomy: TicketTaxonomy
    ai: dict[str, Any]


class AccountSettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the keys present are changed. ``ticket_taxonomy`` and ``ai`` need an API key."""

    templatize_prompt_enabled: bool | None = None
    auto_continue_enabled: bool | None = None
    ticket_taxonomy: TicketTaxonomy | None = None
    ai: dict[str, Any] | None = None


async def read_settings(db: AsyncSession, account_id: uuid.UUID) -> AccountSettingsOut:
    """The account's settings with the documented defaults for keys never set."""
    taxonomy = await get_setting(db, account_id, "ticket_taxonomy", {})
    return AccountSettingsOut(
        templatize_prompt_enabled=bool(await get_setting(db, account_id, "templatize_prompt_enabled")),
        auto_continue_enabled=bool(await get_setting(db, account_id, "auto_continue_enabled")),
        ticket_taxonomy=msgspec.convert(taxonomy or {}, TicketTaxonomy),
        ai=dict(await get_setting(db, account_id, "ai", {}) or {}),
    )


async def update_settings(
    db: AsyncSession, principal: Principal, patch: AccountSettingsPatch, policy: AIPolicy
) -> AccountSettingsOut:
    """Apply the keys present in ``patch``; ``ai`` overrides must be valid against the deployment's ``policy``."""
    account_id = principal.account_id
    if (patch.ticket_taxonomy is not None or patch.ai is not None) and principal.via != "api_key":
        raise Forbidden("ticket_taxonomy and ai settings are changed with an API key (an administrator's)")
    if patch.ai is not None:
        try:
            policy.with_overrides(patch.ai)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="ai") from None
        await set_setting(db, account_id, "ai", patch.ai)
    if patch.templatize_prompt_enabled is not None:
        await set_setting(db, account_id, "templatize_prompt_enabled", patch.templatize_prompt_enabled)
    if patch.auto_continue_enabled is not None:
        await set_setting(db, account_id, "auto_continue_enabled", patch.auto_continue_enabled)
    if patch.ticket_taxonomy is not None:
        await set_setting(db, account_id, "ticket_taxonomy", msgspec.to_builtins(patch.ticket_taxonomy))
    return await read_settings(db, account_id)
