"""Settings: documented, validated with one clear line, secrets kept out of logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.logs import RedactTokens

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


def test_every_setting_is_documented_in_env_example():
    text = (ROOT / ".env.example").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"\n{name.upper()}=" not in text]
    assert missing == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"bot_token": "not-a-token"}, "BOT_TOKEN: does not look like a token"),
    ({"timezone": "Mars/Olympus"}, "TIMEZONE: unknown time zone"),
    ({"webhook_url": "https://bot.example.org/tg"}, "WEBHOOK_SECRET must be set"),
    ({"webhook_url": "https://bot.example.org/tg", "webhook_secret": "bad secret!"},
     "WEBHOOK_SECRET must be set"),
    ({"ops_listen": "8081"}, "OPS_LISTEN: must be HOST:PORT"),
    ({"admin_ids": "12,abc"}, "ADMIN_IDS"),
    ({"telegram_api_base": "api.telegram.org"}, "TELEGRAM_API_BASE: must be"),
])
def test_malformed_settings_say_which_and_why(overrides, expected):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as raised:
        load_settings(**overrides)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_lists_and_defaults():  # type: ignore[no-untyped-def]
    settings = load_settings(admin_ids="1, 22,333", webhook_url="", bot_token=TOKEN)
    assert settings.admin_ids == [1, 22, 333]
    assert settings.webhook_url is None
    assert TOKEN not in repr(settings)
    assert settings.flow_settings().timezone == "Europe/Madrid"


def test_a_bad_environment_stops_the_command_with_one_line():
    env = {"PATH": "/usr/bin:/bin", "TIMEZONE": "Nowhere/City", "HOME": "/tmp"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "db", "current"], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "participa: configuration error: TIMEZONE: unknown time zone 'Nowhere/City'"]


def test_tokens_never_reach_the_logs():
    record = logging.LogRecord("aiohttp.client", logging.INFO, __file__, 1,
                               "POST https://api.telegram.org/bot%s/sendMessage", (TOKEN,), None)
    RedactTokens().filter(record)
    assert TOKEN not in record.getMessage()
    assert "bot<redacted>/sendMessage" in record.getMessage()
