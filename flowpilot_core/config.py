"""FlowPilot settings: environment variables first, then an optional ``flowpilot.toml``.

Every setting has a default that works on a fresh machine: without a database URL
FlowPilot starts an embedded PostgreSQL in the data directory, and without a
secret key it generates one there (mode 0600). A bad value fails at start-up with
:class:`ConfigError`, whose message names the setting.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ENV_PREFIX = "FLOWPILOT_"
# Only the shape of a provider name is checked here; which names exist depends on the plugins.
_PROVIDER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class ConfigError(ValueError):
    """A setting has a value FlowPilot cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with :func:`load_settings`."""

    data_dir: Path
    """Where the embedded database, the generated secret key and other state live."""
    database_url: str | None = None
    """Owner connection (migrations). ``None`` means: start the embedded PostgreSQL."""
    app_database_url: str | None = None
    """Connection of the non-owner application role; derived from ``database_url`` when unset."""
    app_db_role: str = "flowpilot_app"
    """The role the server connects as: owns no table, is no superuser, so RLS applies."""
    app_db_password: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    """The URL technicians and host portals reach FlowPilot at (default: http://host:port)."""
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    model_provider: str | None = None
    """Name of a registered model provider (``anthropic``, ``offline`` or one a plugin contributes);
    default: anthropic when an API key is configured, else offline. Whether the name is registered
    is checked at library start-up, where the plugins are known."""
    redis_url: str | None = None
    """Redis for caches every replica shares (the preview cache); without it each process caches on its own."""
    db_pool_size: int = 10
    """Connections each server process keeps open to the database (application role)."""
    db_max_overflow: int = 20
    """Connections a process may open beyond ``db_pool_size`` under load; closed again when returned."""
    db_pool_timeout: float = 1.0
    """Seconds a request waits for a free connection before it is answered 503 with ``Retry-After``."""
    database_pgbouncer: bool = False
    """The application URL points at PgBouncer in transaction mode: no prepared statement outlives its transaction
    (asyncpg's and SQLAlchemy's statement caches off, every statement uniquely named)."""
    ai: dict[str, Any] = field(default_factory=dict)
    """The ``[ai]`` table of flowpilot.toml: model tiers, MCP flags, prices (see docs/ai-layer.md)."""
    keep_alive_timeout: int = 75
    """Seconds ``flowpilot serve`` keeps an idle HTTP connection open. Longer than a load balancer's idle timeout
    (60 s on common ones), so the balancer, never the server, closes an idle connection: a server that closes
    first races the balancer's next request on it, which fails (a 502, or a reset the client sees)."""
    writeback_reconcile_after: float = 60.0
    """Seconds a writeback must have been untouched before the start-up reconciler finishes it (one a crash
    abandoned); younger ones may be in flight on another replica. 0 takes every unfinished one (one replica)."""

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_model_provider(self) -> str:
        if self.model_provider:
            return self.model_provider
        return "anthropic" if self.anthropic_api_key else "offline"


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "flowpilot"


def normalize_database_url(url: str, setting: str = "FLOWPILOT_DATABASE_URL") -> str:
    """Accept a PostgreSQL URL as users write it and return the asyncpg form SQLAlchemy needs."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2"}:
        rest = url.split("://", 1)[1] if "://" in url else ""
        if not rest or (not parts.hostname and "host=" not in parts.query):
            raise ConfigError(f"{setting}: {url!r} names no host (expected postgresql://user@host:port/database)")
        if not parts.path.strip("/"):
            raise ConfigError(f"{setting}: {url!r} names no database (expected postgresql://user@host:port/database)")
        return "postgresql+asyncpg://" + rest
    raise ConfigError(f"{setting}: {url!r} is not a PostgreSQL URL (expected postgresql://user@host:port/database)")


def derive_app_url(owner_url: str, role: str, password: str | None) -> str:
    """The application role's URL: the owner URL with the user (and password) replaced."""
    scheme, rest = owner_url.split("://", 1)
    slash = rest.find("/")
    netloc, tail = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    hostport = netloc.rsplit("@", 1)[-1]
    cred = role if password is None else f"{role}:{quote(password, safe='')}"
    return f"{scheme}://{cred}@{hostport}{tail}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def load_settings(env: dict[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build :class:`Settings` from the environment and an optional TOML file.

    The TOML file is ``FLOWPILOT_CONFIG`` or ``./flowpilot.toml`` when present; its
    top-level keys are the setting names in lower case (``database_url = ...``).
    Environment variables win over the file.
    """
    env = dict(os.environ if env is None else env)
    path = config_file or (Path(env["FLOWPILOT_CONFIG"]) if env.get("FLOWPILOT_CONFIG") else Path("flowpilot.toml"))
    if env.get("FLOWPILOT_CONFIG") and not path.exists():
        raise ConfigError(f"FLOWPILOT_CONFIG: file {str(path)!r} does not exist")
    file_values = _read_toml(path) if path.exists() else {}

    def get(name: str) -> str | None:
        value = env.get(ENV_PREFIX + name.upper())
        if value is None or value == "":
            raw = file_values.get(name)
            return None if raw is None else str(raw)
        return value

    data_dir = Path(get("data_dir") or _default_data_dir()).expanduser()
    port_raw = get("port") or "8000"
    try:
        port = int(port_raw)
    except ValueError:
        raise ConfigError(f"FLOWPILOT_PORT: {port_raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"FLOWPILOT_PORT: {port} is outside 0-65535")
    database_url = get("database_url")
    if database_url:
        database_url = normalize_database_url(database_url)
    app_database_url = get("app_database_url")
    if app_database_url:
        app_database_url = normalize_database_url(app_database_url, "FLOWPILOT_APP_DATABASE_URL")
    secret_key = get("secret_key")
    if secret_key is not None and len(secret_key) < 32:
        raise ConfigError("FLOWPILOT_SECRET_KEY: must be at least 32 characters (generate one: openssl rand -hex 32)")
    role = get("app_db_role") or "flowpilot_app"
    if not role.replace("_", "").isalnum() or not role[0].isalpha():
        raise ConfigError(f"FLOWPILOT_APP_DB_ROLE: {role!r} must be letters, digits and underscores")
    provider = get("model_provider")
    if provider is not None and not _PROVIDER_NAME_RE.fullmatch(provider):
        raise ConfigError(
            f"FLOWPILOT_MODEL_PROVIDER: {provider!r} is not a provider name (lower-case letters, digits, '_', '-', '.')"
        )
    pool_size = _number(get("db_pool_size"), "FLOWPILOT_DB_POOL_SIZE", int, 10, minimum=1, maximum=1000)
    max_overflow = _number(get("db_max_overflow"), "FLOWPILOT_DB_MAX_OVERFLOW", int, 20, minimum=0, maximum=1000)
    pool_timeout = _number(get("db_pool_timeout"), "FLOWPILOT_DB_POOL_TIMEOUT", float, 1.0, minimum=0.01, maximum=300)
    keep_alive = _number(get("keep_alive_timeout"), "FLOWPILOT_KEEP_ALIVE_TIMEOUT", int, 75, minimum=1, maximum=3600)
    ai = file_values.get("ai", {})
    if not isinstance(ai, dict):
        raise ConfigError("ai: must be a TOML table")
    reconcile_after = _number(
        get("writeback_reconcile_after"), "FLOWPILOT_WRITEBACK_RECONCILE_AFTER", float, 60.0, minimum=0, maximum=86400
    )
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        app_database_url=app_database_url,
        app_db_role=role,
        app_db_password=get("app_db_password"),
        secret_key=secret_key,
        host=get("host") or "127.0.0.1",
        port=port,
        public_url=(get("public_url") or None),
        anthropic_api_key=env.get("ANTHROPIC_API_KEY") or get("anthropic_api_key"),
        anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or get("anthropic_base_url"),
        model_provider=provider,
        redis_url=_redis_url(get("redis_url")),
        db_pool_size=int(pool_size),
        db_max_overflow=int(max_overflow),
        db_pool_timeout=float(pool_timeout),
        database_pgbouncer=_flag(get("database_pgbouncer"), "FLOWPILOT_DATABASE_PGBOUNCER"),
        ai=ai,
        keep_alive_timeout=int(keep_alive),
        writeback_reconcile_after=float(reconcile_after),
    )


def _number(
    raw: str | None, setting: str, kind: type[int] | type[float], default: float, *, minimum: float, maximum: float
) -> float:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{setting}: {raw!r} is not {what}") from None
    if not minimum <= value <= maximum:
        low = int(minimum) if kind is int else minimum
        raise ConfigError(f"{setting}: {value} is outside {low}-{int(maximum)}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(raw: str | None, setting: str) -> bool:
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{setting}: {raw!r} is not true or false")


def _redis_url(url: str | None) -> str | None:
    if not url:
        return None
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"FLOWPILOT_REDIS_URL: {url!r} is not a Redis URL (expected redis://host:6379/0)")
    return url


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key, generating one in the data directory on first start."""
    if settings.secret_key:
        return settings
    path = settings.data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) < 32:
            raise ConfigError(f"FLOWPILOT_SECRET_KEY: the generated key in {path} is damaged; delete it to regenerate")
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    from dataclasses import replace

    return replace(settings, secret_key=key)
