"""Settings from the environment (and a .env file), each one documented in .env.example.

A missing or malformed setting stops start-up with one clear line.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from conversations.settings import FlowSettings

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


class ConfigError(Exception):
    """One line saying which setting is wrong and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", case_sensitive=False)

    bot_token: SecretStr | None = None
    bot_framework: Literal["aiogram", "ptb"] = "aiogram"
    telegram_api_base: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/participa.db"
    redis_url: str | None = None
    redis_prefix: str = "participa:"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8080"
    webhook_secret: SecretStr | None = None
    ops_listen: str = "127.0.0.1:8081"
    default_locale: str = "es"
    timezone: str = "Europe/Madrid"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    moderators_chat_id: int | None = None
    moderators_topics: bool = False
    controller_name: str = "Administración pública"
    controller_contact: str = "privacidad@example.org"
    privacy_version: str = "1"
    retention_days: int = Field(730, ge=1)
    proposals_per_day: int = Field(3, ge=0)
    throttle_per_minute: int = Field(30, ge=0)
    send_rate: float = Field(25.0, ge=0)
    sender_concurrency: int = Field(8, ge=1, le=64)
    workshop_reminder_hours: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [48, 2])
    workshop_no_offers_hours: int = Field(2, ge=0)
    workshop_offer_max_hours: int = Field(24, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_hash_key: SecretStr | None = None
    #: Admins hear of handler errors in the moderators' group at most this often.
    error_alert_minutes: int = Field(15, ge=1)

    @field_validator("admin_ids", "workshop_reminder_hours", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @field_validator("workshop_reminder_hours")
    @classmethod
    def _positive_hours(cls, value: list[int]) -> list[int]:
        if any(hours <= 0 for hours in value):
            raise ValueError("reminder hours must be positive, e.g. 48,2")
        return sorted(set(value), reverse=True)

    @field_validator("redis_url", "webhook_url", "moderators_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        if value in ("", None):
            return None
        if not _TOKEN.match(str(value)):
            raise ValueError("does not look like a token from @BotFather (digits:letters)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("webhook_listen", "ops_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("telegram_api_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be the Bot API server's root URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("WEBHOOK_URL must be a full URL, e.g. https://bot.example.org/tg")
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not _SECRET.match(secret):
                raise ValueError("WEBHOOK_SECRET must be set to 1-256 characters of "
                                 "A-Z a-z 0-9 _ - when WEBHOOK_URL is set")
        return self

    @model_validator(mode="after")
    def _json_logs_need_a_key(self) -> Settings:
        key = self.log_hash_key.get_secret_value() if self.log_hash_key else ""
        if self.log_format == "json" and len(key) < 16:
            raise ValueError("LOG_HASH_KEY must be set (16 characters or more) when "
                             "LOG_FORMAT=json: it keys the hash that stands for user ids")
        return self

    def log_settings(self) -> dict:
        """configure_logging's arguments."""
        return {"level": self.log_level, "log_format": self.log_format,
                "hash_key": self.log_hash_key.get_secret_value() if self.log_hash_key
                else None}

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url or "").path or "/"

    def flow_settings(self) -> FlowSettings:
        return FlowSettings(
            controller_name=self.controller_name, controller_contact=self.controller_contact,
            privacy_version=self.privacy_version, retention_days=self.retention_days,
            default_language=self.default_locale, timezone=self.timezone,
            moderators_chat_id=self.moderators_chat_id, admin_ids=frozenset(self.admin_ids),
            proposals_per_day=self.proposals_per_day,
            moderators_topics=self.moderators_topics,
            workshop_reminder_hours=tuple(self.workshop_reminder_hours),
            workshop_no_offers_hours=self.workshop_no_offers_hours,
            workshop_offer_max_hours=self.workshop_offer_max_hours,
            error_alert_minutes=self.error_alert_minutes,
        )


def load_settings(**overrides: object) -> Settings:
    """Settings, or ConfigError with one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper() or "configuration"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def split_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)
