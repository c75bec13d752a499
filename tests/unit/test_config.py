"""Configuration: defaults that work on a fresh machine, URLs as users write them, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowpilot_core.config import ConfigError, derive_app_url, ensure_secret_key, load_settings


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(env={"FLOWPILOT_DATA_DIR": str(tmp_path)}, config_file=tmp_path / "none.toml")
    assert settings.database_url is None  # embedded PostgreSQL
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.effective_model_provider == "offline"


@pytest.mark.parametrize(
    ("raw", "expected"),
    (
        ("postgresql://user@db.internal:5432/flowpilot", "postgresql+asyncpg://user@db.internal:5432/flowpilot"),
        ("postgres://u:p%40ss@localhost/fp", "postgresql+asyncpg://u:p%40ss@localhost/fp"),
        ("postgresql+asyncpg://u@h/fp", "postgresql+asyncpg://u@h/fp"),
        ("postgresql://postgres:@/fp?host=/tmp/sock", "postgresql+asyncpg://postgres:@/fp?host=/tmp/sock"),
    ),
)
def test_database_urls_are_accepted_as_users_write_them(tmp_path: Path, raw: str, expected: str) -> None:
    settings = load_settings(env={"FLOWPILOT_DATABASE_URL": raw}, config_file=tmp_path / "none.toml")
    assert settings.database_url == expected


@pytest.mark.parametrize("raw", ("mysql://x@h/db", "postgresql://user@host:5432", "not a url"))
def test_bad_database_url_names_the_setting(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="FLOWPILOT_DATABASE_URL"):
        load_settings(env={"FLOWPILOT_DATABASE_URL": raw}, config_file=tmp_path / "none.toml")


def test_app_url_swaps_only_the_credentials() -> None:
    assert (
        derive_app_url("postgresql+asyncpg://owner:pw@h:5432/fp?ssl=require", "flowpilot_app", "s3cr/t")
        == "postgresql+asyncpg://flowpilot_app:s3cr%2Ft@h:5432/fp?ssl=require"
    )
    assert derive_app_url("postgresql+asyncpg://postgres:@/fp?host=/s", "app", None) == (
        "postgresql+asyncpg://app@/fp?host=/s"
    )


def test_toml_file_is_read_and_env_wins(tmp_path: Path) -> None:
    config = tmp_path / "flowpilot.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\n[ai.services.chat]\ntier = "deep"\n')
    settings = load_settings(env={"FLOWPILOT_PORT": "9100"}, config_file=config)
    assert settings.port == 9100 and settings.host == "0.0.0.0"
    assert settings.ai == {"services": {"chat": {"tier": "deep"}}}
    config.write_text("port = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={}, config_file=config)


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(env={"FLOWPILOT_DATA_DIR": str(tmp_path)}, config_file=tmp_path / "none.toml")
    first = ensure_secret_key(settings)
    key_file = tmp_path / "secret_key"
    assert first.secret_key and len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_secret_key(settings).secret_key == first.secret_key


def test_pool_and_pgbouncer_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "flowpilot.toml"
    config.write_text("db_pool_size = 4\ndb_max_overflow = 0\ndb_pool_timeout = 0.25\ndatabase_pgbouncer = true\n")
    settings = load_settings(env={"FLOWPILOT_DB_POOL_SIZE": "6"}, config_file=config)
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout) == (6, 0, 0.25)
    assert settings.database_pgbouncer is True
    defaults = load_settings(env={}, config_file=tmp_path / "none.toml")
    assert (defaults.db_pool_size, defaults.db_max_overflow, defaults.db_pool_timeout) == (10, 20, 1.0)
    assert defaults.database_pgbouncer is False


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    (
        ("FLOWPILOT_DB_POOL_SIZE", "0", "FLOWPILOT_DB_POOL_SIZE: 0 is outside 1-1000"),
        ("FLOWPILOT_DB_POOL_SIZE", "ten", "FLOWPILOT_DB_POOL_SIZE: 'ten' is not a whole number"),
        ("FLOWPILOT_DB_MAX_OVERFLOW", "-1", "FLOWPILOT_DB_MAX_OVERFLOW: -1 is outside 0-1000"),
        ("FLOWPILOT_DB_MAX_OVERFLOW", "2.5", "FLOWPILOT_DB_MAX_OVERFLOW: '2.5' is not a whole number"),
        ("FLOWPILOT_DB_POOL_TIMEOUT", "0", "FLOWPILOT_DB_POOL_TIMEOUT: 0.0 is outside 0.01-300"),
        ("FLOWPILOT_DB_POOL_TIMEOUT", "nan", "FLOWPILOT_DB_POOL_TIMEOUT: nan is outside 0.01-300"),
        ("FLOWPILOT_DB_POOL_TIMEOUT", "1s", "FLOWPILOT_DB_POOL_TIMEOUT: '1s' is not a number"),
        ("FLOWPILOT_DATABASE_PGBOUNCER", "maybe", "FLOWPILOT_DATABASE_PGBOUNCER: 'maybe' is not true or false"),
    ),
)
def test_a_bad_pool_setting_names_itself(tmp_path: Path, name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env={name: raw}, config_file=tmp_path / "none.toml")
    assert str(raised.value) == message


def test_the_writeback_reconcile_delay_is_seconds_and_a_bad_value_names_the_setting(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    assert load_settings(env={}, config_file=none).writeback_reconcile_after == 60.0
    assert (
        load_settings(env={"FLOWPILOT_WRITEBACK_RECONCILE_AFTER": "0"}, config_file=none).writeback_reconcile_after == 0
    )
    for raw in ("soon", "-1", "nan", "inf", "90000"):
        with pytest.raises(ConfigError, match="FLOWPILOT_WRITEBACK_RECONCILE_AFTER"):
            load_settings(env={"FLOWPILOT_WRITEBACK_RECONCILE_AFTER": raw}, config_file=none)


def test_the_keep_alive_timeout_is_whole_seconds_and_a_bad_value_names_the_setting(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    assert load_settings(env={}, config_file=none).keep_alive_timeout == 75
    assert load_settings(env={"FLOWPILOT_KEEP_ALIVE_TIMEOUT": "120"}, config_file=none).keep_alive_timeout == 120
    for raw in ("soon", "0", "1.5", "5000"):
        with pytest.raises(ConfigError, match="FLOWPILOT_KEEP_ALIVE_TIMEOUT"):
            load_settings(env={"FLOWPILOT_KEEP_ALIVE_TIMEOUT": raw}, config_file=none)
