"""Accounts engine: accounts, API keys, users, authentication, embed tokens, account settings, MCP servers."""

from flowpilot_core.accounts.accounts import (
    API_KEY_PREFIX,
    AccountOut,
    CreatedAccount,
    CreatedApiKey,
    Principal,
    UserOut,
    authenticate,
    create_account,
    create_api_key,
    embed_secret,
    get_account,
    normalize_origin,
    revoke_api_key,
    set_allowed_origins,
    upsert_user,
    user_out,
)
from flowpilot_core.accounts.embed_tokens import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    EmbedClaims,
    mint_embed_token,
    verify_embed_token,
)
from flowpilot_core.accounts.settings import get_setting, set_setting

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_TTL_SECONDS",
    "MAX_TTL_SECONDS",
    "AccountOut",
    "CreatedAccount",
    "CreatedApiKey",
    "EmbedClaims",
    "Principal",
    "UserOut",
    "authenticate",
    "create_account",
    "create_api_key",
    "embed_secret",
    "get_account",
    "get_setting",
    "mint_embed_token",
    "normalize_origin",
    "revoke_api_key",
    "set_allowed_origins",
    "set_setting",
    "upsert_user",
    "user_out",
    "verify_embed_token",
]
